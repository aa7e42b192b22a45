// `convkit conv --input X.npy --weight W.npy [--bias B.npy] --output Y.npy [options]`
#include "conv.h"

#include <iostream>
#include <memory>
#include <optional>

#include "convkit/convkit.h"
#include "convkit/npy.h"
#include "spec_options.h"

namespace convkit::cli {
namespace {

struct ConvCommand {
  std::string input, weight, bias, output;
  bool explain = false;
  std::string accuracy = "fast";
  SpecOptions options;

  void run() const {
    const Tensor x = npy::read(input);
    const Tensor w = npy::read(weight);
    std::optional<Tensor> b;
    if (!bias.empty()) b = npy::read(bias);
    const ConvSpec spec = options.spec_for(x.shape(), w.shape(), b.has_value());
    check_weight_shape(spec, w.shape());  // every shape rule, before the plan packs the weights
    (void)output_shape(spec, x.shape());
    const ConvPlan plan(spec, w, b ? std::optional<ConstTensorView>(b->view()) : std::nullopt,
                        PlanOptions{.accuracy = parse_accuracy(accuracy, "--accuracy")});
    const Tensor y = plan.run(x);
    npy::write(output, y);
    std::cout << describe(spec) << ": " << to_string(x.shape()) << " -> " << to_string(y.shape()) << " written to "
              << output << " (" << plan.algorithm() << ")\n";
    if (explain) std::cout << plan.explain();
  }
};

}  // namespace

void add_conv_command(CLI::App& app) {
  auto command = std::make_shared<ConvCommand>();
  CLI::App* sub = app.add_subcommand("conv", "Convolve .npy arrays exactly as PyTorch, ONNX or TensorFlow do");
  sub->add_option("--input", command->input, "input .npy, (N, C, spatial...) or (N, spatial..., C)")->required();
  sub->add_option("--weight", command->weight, "weight .npy in the layout's weight order")->required();
  sub->add_option("--bias", command->bias, "bias .npy of shape (out_channels,)");
  sub->add_option("--output", command->output, "output .npy (float32, C order)")->required();
  sub->add_flag("--explain", command->explain, "print which algorithm the plan chose and why the others declined");
  add_accuracy_option(*sub, command->accuracy);
  command->options.add_to(*sub);
  sub->callback([command] { command->run(); });
}

}  // namespace convkit::cli
