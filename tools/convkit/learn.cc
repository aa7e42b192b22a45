// `convkit learn kernel [--steps N] [--learning-rate R] [--seed S] [--kernel g0,g1,...] [--plot FILE]`
// `convkit learn activity [--epochs N] [--optimizer adam|sgd] [--learning-rate R] [--seed S] [--plot FILE] ...`
#include "learn.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "activity.h"
#include "convkit/error.h"
#include "draw/scene.h"
#include "kernel_recovery.h"
#include "loss_plot.h"

namespace convkit::cli {
namespace {

std::string fixed(double value, int precision = 4) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", precision, value);
  return text;
}

std::string general(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3e", value);
  return text;
}

// "1,-2,3,0.5" as finite floats. CLI11's own list parsing would read "" as [0] and 1e39 as inf.
std::vector<float> parse_kernel(const std::string& text) {
  if (text.find_first_not_of(" \t") == std::string::npos)
    fail("--kernel is empty; expected comma-separated numbers like 1,-2,3,0.5");
  std::vector<float> values;
  for (size_t start = 0; start <= text.size();) {
    const size_t end = std::min(text.find(',', start), text.size());
    std::string_view field = std::string_view(text).substr(start, end - start);
    field.remove_prefix(std::min(field.find_first_not_of(" \t"), field.size()));
    field.remove_suffix(field.size() - std::min(field.find_last_not_of(" \t") + 1, field.size()));
    float value = 0.0f;
    const auto [last, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || error != std::errc() || last != field.data() + field.size() || !std::isfinite(value))
      fail("--kernel=", escaped(text, 80), ": value ", values.size() + 1, " '", escaped(field, 40),
           "' is not a finite float; expected comma-separated numbers like 1,-2,3,0.5");
    values.push_back(value);
    start = end + 1;
  }
  return values;
}

std::string joined(const std::vector<float>& values) {
  std::string text;
  char number[32];
  for (float v : values) {
    text += text.empty() ? "" : ",";
    text.append(number, std::to_chars(number, number + sizeof number, v).ptr);
  }
  return text;
}

// Every tenth of the curve, and the last value.
void print_curve(const std::vector<double>& loss, const char* unit) {
  const size_t every = std::max<size_t>(1, loss.size() / 10);
  for (size_t i = 0; i < loss.size(); ++i)
    if (i % every == 0 || i + 1 == loss.size())
      std::cout << "  " << unit << " " << i << ": " << general(loss[i]) << "\n";
}

struct KernelCommand {
  KernelRecoveryOptions options;
  std::string kernel = joined(options.true_kernel);
  std::string plot;

  void run() {
    options.true_kernel = parse_kernel(kernel);
    if (!plot.empty()) draw::check_output(plot, "--plot");
    const KernelRecoveryResult r = recover_kernel(options);
    const size_t k = r.true_kernel.size();
    std::cout << "Kernel recovery (seed 002): y = x * g, a true convolution (kernel reversed as it slides), on "
              << options.signals << " random signals of " << options.length << " samples.\n"
              << "A convolution layer of deep learning (cross-correlation, Keras glorot_uniform start) is fitted\n"
              << "to y by gradient descent on the mean squared error (learning rate " << options.learning_rate << ", "
              << options.steps << " steps).\n\n"
              << "  tap   true g   learned   g reversed\n";
    double worst = 0.0;
    for (size_t q = 0; q < k; ++q) {
      const float reversed = r.true_kernel[k - 1 - q];
      worst = std::max(worst, std::fabs(static_cast<double>(r.learned_kernel[q]) - reversed));
      std::printf("  %3zu %8.4f %9.4f %12.4f\n", q, static_cast<double>(r.true_kernel[q]),
                  static_cast<double>(r.learned_kernel[q]), static_cast<double>(reversed));
    }
    std::fflush(stdout);
    std::cout << "\nloss (mean squared error):\n";
    print_curve(r.loss, "step");
    std::cout << "\nmax |learned - g reversed| = " << general(worst)
              << (worst < 1e-3 ? ": the learned kernel is g reversed.\n"
                               : ": not converged to g reversed (more --steps or another --learning-rate?)\n");
    if (!plot.empty()) {
      draw::write(loss_figure(r.loss, kKernelRecoveryPlot), plot);
      std::cout << "loss curve written to " << plot << "\n";
    }
  }
};

struct ActivityCommand {
  ActivityOptions options;
  std::string plot;

  void run() const {
    if (!plot.empty()) draw::check_output(plot, "--plot");
    std::cout << "1D CNN (seed 003) on synthetic 3-axis accelerometer windows (" << options.length
              << " steps at 50 Hz): " << options.train_windows << " for training, " << options.test_windows
              << " held out; " << options.optimizer << ", learning rate " << options.learning_rate << ", batch "
              << options.batch << ".\n";
    const ActivityResult r = train_activity_cnn(options, [&](int epoch, const EpochReport& e) {
      std::cout << "  epoch " << epoch + 1 << "/" << options.epochs << ": loss " << fixed(e.loss)
                << ", training accuracy " << fixed(100.0 * e.train_accuracy, 1) << "%\n"
                << std::flush;
    });
    std::cout << "model:\n";
    for (size_t begin = 0; begin < r.model.size();) {
      const size_t end = std::min(r.model.find('\n', begin), r.model.size());
      std::cout << "  " << r.model.substr(begin, end - begin) << "\n";
      begin = end + 1;
    }
    std::cout << "held-out accuracy: " << fixed(100.0 * r.test_accuracy, 1) << "%\n"
              << "confusion (rows: true, columns: predicted " ;
    for (std::string_view name : kActivityNames) std::cout << name << (name == kActivityNames.back() ? ")\n" : ", ");
    for (size_t t = 0; t < r.confusion.size(); ++t) {
      std::printf("  %-9s", std::string(kActivityNames[t]).c_str());
      for (int64_t count : r.confusion[t]) std::printf(" %5lld", static_cast<long long>(count));
      std::printf("\n");
    }
    std::fflush(stdout);
    if (!plot.empty()) {
      std::vector<double> loss;
      for (const EpochReport& e : r.epochs) loss.push_back(e.loss);
      draw::write(loss_figure(loss, {"1D CNN on accelerometer windows: training loss", "epoch",
                                     "mean cross-entropy per window", 1}),
                  plot);
      std::cout << "loss curve written to " << plot << "\n";
    }
  }
};

}  // namespace

void add_learn_command(CLI::App& app) {
  CLI::App* learn = app.add_subcommand("learn", "Filters that learn: training with convkit's backward passes");
  learn->require_subcommand(1);

  auto kernel = std::make_shared<KernelCommand>();
  CLI::App* k = learn->add_subcommand("kernel", "Recover a true convolution's kernel: the learned one is g reversed");
  k->add_option("--kernel", kernel->kernel, "the hidden kernel g, comma-separated")->capture_default_str();
  k->add_option("--steps", kernel->options.steps, "gradient descent steps")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  k->add_option("--learning-rate", kernel->options.learning_rate, "step size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  k->add_option("--seed", kernel->options.seed, "seed of the signals and the initial kernel")->capture_default_str();
  k->add_option("--plot", kernel->plot, "write the loss curve to this .png, .svg or .pdf file");
  k->callback([kernel] { kernel->run(); });

  auto activity = std::make_shared<ActivityCommand>();
  ActivityOptions& o = activity->options;
  CLI::App* a = learn->add_subcommand("activity", "Train seed 003's 1D CNN on synthetic accelerometer windows");
  a->add_option("--epochs", o.epochs, "passes over the training windows")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  a->add_option("--optimizer", o.optimizer, "adam or sgd")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "sgd"}));
  a->add_option("--learning-rate", o.learning_rate, "step size")->capture_default_str()->check(CLI::PositiveNumber);
  a->add_option("--batch", o.batch, "windows per step")->capture_default_str()->check(CLI::PositiveNumber);
  a->add_option("--train", o.train_windows, "training windows")->capture_default_str()->check(CLI::PositiveNumber);
  a->add_option("--test", o.test_windows, "held-out windows")->capture_default_str()->check(CLI::PositiveNumber);
  a->add_option("--length", o.length, "samples per window (50 Hz)")
      ->capture_default_str()
      ->check(CLI::Range(9, 100000));
  a->add_option("--seed", o.seed, "seed of the data, the initial weights and the batch order")->capture_default_str();
  a->add_option("--plot", activity->plot, "write the training loss per epoch to this .png, .svg or .pdf file");
  a->callback([activity] { activity->run(); });
}

}  // namespace convkit::cli
