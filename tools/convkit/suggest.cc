#include "suggest.h"

#include <algorithm>
#include <string>
#include <vector>

#include "convkit/error.h"

namespace convkit::cli {
namespace {

// Levenshtein distance: insertions, deletions and substitutions of one character each.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known name closest to `word` when it is plausibly a typo: at most a third of its letters off
// (at least 1, at most 3), or a prefix of the name ("--pad" for "--padding"). Empty when none is, and
// for one-letter options ("-x"), which are all one edit from each other.
std::string closest(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  if (word.size() <= 2) return best;
  size_t best_distance = std::clamp<size_t>(word.size() / 3, 1, 3) + 1;
  for (const std::string& name : names) {
    const size_t distance = name.rfind(word, 0) == 0 && word.size() >= 3 ? 1 : edit_distance(word, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

std::string listed(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::vector<std::string> command_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> option_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

// The subcommand of `app` named `name`, or nullptr (CLI11 2.1 has no non-throwing lookup).
CLI::App* subcommand(CLI::App& app, const std::string& name) {
  const auto found = app.get_subcommands([&](CLI::App* sub) { return sub->check_name(name); });
  return found.empty() ? nullptr : found.front();
}

bool takes_positionals(CLI::App& app) {
  const auto options = app.get_options([](const CLI::Option* option) { return !option->nonpositional(); });
  return !options.empty();
}

std::string command_path(const CLI::App& app) {
  return app.get_parent() ? command_path(*app.get_parent()) + " " + app.get_name() : std::string("convkit");
}

}  // namespace

void check_names(CLI::App& app, int argc, const char* const* argv) {
  CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--") return;
    if (argument.size() > 1 && argument[0] == '-' && !(argument[1] >= '0' && argument[1] <= '9')) {
      const std::string name = argument.substr(0, argument.find('='));
      const CLI::Option* option = current->get_option_no_throw(name);
      if (option == nullptr) {
        const std::string guess = closest(name, option_names(*current));
        fail("unknown option '", name, "' for '", command_path(*current), "'",
             guess.empty() ? "; see --help for the options" : "; did you mean '" + guess + "'?");
      }
      // The option's value is the next argument unless given with '=' (flags take none).
      if (name.size() == argument.size() && option->get_expected_min() > 0) ++i;
      continue;
    }
    if (CLI::App* sub = subcommand(*current, argument)) {
      current = sub;
      continue;
    }
    const std::vector<std::string> commands = command_names(*current);
    if (!commands.empty() && !takes_positionals(*current)) {
      const std::string guess = closest(argument, commands);
      fail("unknown command '", argument, "' for '", command_path(*current), "'",
           guess.empty() ? "; expected one of " + listed(commands) : "; did you mean '" + guess + "'?");
    }
  }
}

}  // namespace convkit::cli
