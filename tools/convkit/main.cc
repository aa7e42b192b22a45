// convkit: the command-line tool. One subcommand per file; this file only wires them together.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <new>

#include "bench.h"
#include "convkit/version.h"
#include "conv.h"
#include "demo.h"
#include "draw.h"
#include "filter.h"
#include "learn.h"
#include "suggest.h"
#include "summary.h"

int main(int argc, char** argv) {
  CLI::App app{"convkit: every convolution of CNNs, exactly as TensorFlow, PyTorch and ONNX define them"};
  app.set_version_flag("--version", "convkit " + std::string(convkit::version()));
  app.require_subcommand(1);
  convkit::cli::add_conv_command(app);
  convkit::cli::add_demo_command(app);
  convkit::cli::add_summary_command(app);
  convkit::cli::add_filter_command(app);
  convkit::cli::add_bench_command(app);
  convkit::cli::add_learn_command(app);
  convkit::cli::add_draw_command(app);
  try {
    convkit::cli::check_names(app, argc, argv);  // "did you mean" for a mistyped command or option
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::bad_alloc&) {  // the library names its large buffers; this is any other allocation
    std::cerr << "convkit: error: out of memory (an allocation failed; a smaller input, output or batch may fit)\n";
    return 2;
  } catch (const std::exception& e) {  // convkit::Error and anything the system throws (I/O)
    std::cerr << "convkit: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
