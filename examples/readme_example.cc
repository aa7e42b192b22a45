// The C++ example shown in README.md: a padded, strided 2D convolution through a plan (the fast
// engine), checked against the reference engine.
#include <convkit/convkit.h>

#include <iostream>

int main() {
  using namespace convkit;
  ConvSpec spec{.rank = 2, .in_channels = 3, .out_channels = 8, .kernel = {3, 3}, .stride = {2, 2},
                .padding = Padding::same(), .bias = true};
  Tensor x({1, 3, 32, 32}, 1.0f), w(weight_shape(spec), 0.5f), b(bias_shape(spec), 0.25f);
  ConvPlan plan(spec, w, b.view());
  Tensor y = plan.run(x);
  Tensor exact = reference::convolution(spec, x, w, b.view());
  LayerCost cost = conv_cost(spec, x.shape());
  std::cout << "output " << to_string(y.shape()) << ", " << cost.params() << " params, " << cost.macs
            << " MACs, y[0,0,5,5] = " << y.at({0, 0, 5, 5}) << "\n";  // 3*9*0.5 + 0.25 = 13.75
  std::cout << "algorithm " << plan.algorithm() << "\n";
  return y.at({0, 0, 5, 5}) == 13.75f && exact.at({0, 0, 5, 5}) == 13.75f ? 0 : 1;
}
