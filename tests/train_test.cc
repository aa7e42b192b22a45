// Training support: Keras initialisers (bounds and statistics), the layers' and losses' gradients by
// central differences, the optimizers' update rules by hand, and the two learning demonstrations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "activity.h"  // tools/convkit: the learning demonstrations
#include "convkit/train.h"
#include "kernel_recovery.h"
#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;

struct Moments {
  double mean = 0.0, std = 0.0, max_abs = 0.0;
};

Moments moments(const Tensor& t) {
  Moments m;
  for (int64_t i = 0; i < t.numel(); ++i) m.mean += t[i] / static_cast<double>(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) {
    m.std += (t[i] - m.mean) * (t[i] - m.mean) / static_cast<double>(t.numel());
    m.max_abs = std::max(m.max_abs, std::fabs(static_cast<double>(t[i])));
  }
  m.std = std::sqrt(m.std);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Keras initialisers.

TEST(KerasInit, FansFollowComputeFans) {
  EXPECT_EQ(keras_fans(Shape{7}).in, 7);
  EXPECT_EQ(keras_fans(Shape{7}).out, 7);
  EXPECT_EQ(keras_fans(Shape{16, 4}).in, 16);  // Dense kernel (input_dim, units)
  EXPECT_EQ(keras_fans(Shape{16, 4}).out, 4);
  EXPECT_EQ(keras_fans(Shape{3, 3, 8, 32}).in, 72);  // Conv2D kernel: receptive field 9
  EXPECT_EQ(keras_fans(Shape{3, 3, 8, 32}).out, 288);
  // The seed's Keras Conv1D(1, kernel_size=5) on (120, 3): kernel (5, 3, 1).
  ConvSpec conv1d{.rank = 1, .in_channels = 3, .out_channels = 1, .kernel = {5}, .layout = Layout::channels_last};
  EXPECT_EQ(conv_fans(conv1d).in, 15);
  EXPECT_EQ(conv_fans(conv1d).out, 5);
  // channels_first (Cout, Cin/g, k...) has the same fans as Keras' (k..., Cin/g, Cout).
  ConvSpec grouped{.rank = 2, .in_channels = 8, .out_channels = 12, .kernel = {3, 2}, .groups = 4};
  EXPECT_EQ(conv_fans(grouped).in, 2 * 6);
  EXPECT_EQ(conv_fans(grouped).out, 12 * 6);
  grouped.layout = Layout::channels_last;
  EXPECT_EQ(conv_fans(grouped).in, 2 * 6);
  EXPECT_EQ(conv_fans(grouped).out, 12 * 6);
}

TEST(KerasInit, GlorotUniformBoundsAndVariance) {
  const ConvSpec spec{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3, 3}};
  const Fans fans = conv_fans(spec);  // 576 and 576
  Tensor w(weight_shape(spec));
  Rng rng(kSeed);
  initialize(w, Initializer::glorot_uniform, fans, rng);
  const double limit = std::sqrt(6.0 / (576.0 + 576.0));
  const Moments m = moments(w);
  EXPECT_LE(m.max_abs, limit);
  EXPECT_GT(m.max_abs, 0.999 * limit);
  // U(-l, l) has std l / sqrt(3); 36,864 draws give the sample std within about 0.4% (1 sigma).
  EXPECT_NEAR(m.std, limit / std::sqrt(3.0), 0.02 * limit / std::sqrt(3.0));
  EXPECT_NEAR(m.mean, 0.0, 0.02 * limit);
}

TEST(KerasInit, HeNormalStdAndTruncation) {
  const ConvSpec spec{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3, 3},
                      .layout = Layout::channels_last};
  const Fans fans = conv_fans(spec);
  Tensor w(weight_shape(spec));
  Rng rng(kSeed);
  initialize(w, Initializer::he_normal, fans, rng);
  const double expected_std = std::sqrt(2.0 / 576.0);  // Keras: the std after truncation is sqrt(2 / fan_in)
  const Moments m = moments(w);
  EXPECT_NEAR(m.std, expected_std, 0.02 * expected_std);
  EXPECT_NEAR(m.mean, 0.0, 0.02 * expected_std);
  EXPECT_LE(m.max_abs, 2.0 * expected_std / .87962566103423978);  // redrawn beyond two stddev
  EXPECT_GT(m.max_abs, 1.9 * expected_std / .87962566103423978);
}

TEST(KerasInit, SeededAndValidated) {
  Tensor a({100}), b({100}), c({100});
  Rng r1(7), r2(7), r3(8);
  initialize(a, Initializer::glorot_uniform, {10, 10}, r1);
  initialize(b, Initializer::glorot_uniform, {10, 10}, r2);
  initialize(c, Initializer::glorot_uniform, {10, 10}, r3);
  EXPECT_EQ(a.values(), b.values());
  EXPECT_NE(a.values(), c.values());
  initialize(a, Initializer::zeros, {0, 0}, r1);
  EXPECT_EQ(a.values(), std::vector<float>(100, 0.0f));
  EXPECT_THROW(initialize(a, Initializer::he_normal, {0, 4}, r1), Error);
  EXPECT_EQ(parse_initializer("he_normal"), Initializer::he_normal);
  EXPECT_THROW(parse_initializer("orthogonal"), Error);
}

// ---------------------------------------------------------------------------------------------
// Layer and loss gradients by central differences. The network is not affine (ReLU, softmax), so the
// step h matters: too large and a perturbation moves some of the ~300 pre-activations across a ReLU
// kink (with h = 1e-3 that happens in most draws and costs a few percent); too small and the float
// rounding of the activations (relative ~6e-8), amplified by 1/(2h), dominates. With h = 1e-4 a kink
// is crossed with probability of a few percent per check, the rounding stays near 3e-4 of the loss's
// scale and O(h^2) truncation is negligible: tolerance 2e-3 of sum |grad . direction|. Whether a kink
// lies within h depends on the last bits of the activations, so on the convolutions' summation order:
// a direction whose two one-sided differences disagree (a kink) is replaced by another.

// The loss of `model` on (x, labels) in double.
double model_loss(Sequential& model, const Tensor& x, const std::vector<int64_t>& labels) {
  return softmax_cross_entropy(model.forward(x), labels).value;
}

void expect_gradient_matches(const std::function<double()>& loss, Tensor& param, const Tensor& grad, Rng& rng,
                             const std::string& what) {
  constexpr double h = 1e-4;
  constexpr int kDraws = 8;
  const Tensor saved = param;
  const double base = loss();
  for (int draw = 0; draw < kDraws; ++draw) {
    Tensor direction(param.shape());
    for (int64_t i = 0; i < direction.numel(); ++i) direction[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
    double predicted = 0.0, scale = 0.0;
    for (int64_t i = 0; i < param.numel(); ++i) {
      param[i] = static_cast<float>(saved[i] + h * direction[i]);
      predicted += static_cast<double>(grad[i]) * (static_cast<double>(param[i]) - saved[i]) / h;
      scale += std::fabs(static_cast<double>(grad[i]) * direction[i]);
    }
    const double plus = loss();
    for (int64_t i = 0; i < param.numel(); ++i) param[i] = static_cast<float>(saved[i] - h * direction[i]);
    const double minus = loss();
    param = saved;
    const double tolerance = 2e-3 * scale + 1e-6;
    // A kink inside [-h, h] puts the central difference off by half the jump between the one-sided
    // slopes; a jump above twice the tolerance means this direction crosses one: draw another.
    if (std::fabs((plus - base) - (base - minus)) / h > 2 * tolerance) continue;
    EXPECT_NEAR((plus - minus) / (2.0 * h), predicted, tolerance) << what << " (direction " << draw << ")";
    return;
  }
  ADD_FAILURE() << what << ": all " << kDraws << " directions crossed a ReLU or max-pool kink";
}

TEST(LayerGradients, ConvReluPoolDenseCrossEntropy) {
  Rng rng(kSeed);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const ConvSpec conv1{.rank = 1, .in_channels = 3, .out_channels = 5, .kernel = {3}, .stride = {2},
                         .padding = Padding::same(), .padding_mode = PaddingMode::reflect, .bias = true,
                         .layout = layout};
    ConvSpec conv2 = conv1;
    conv2.in_channels = 5;
    conv2.out_channels = 4;
    conv2.dilation = {2};
    conv2.padding_mode = PaddingMode::zeros;
    conv2.padding = Padding::valid();
    conv2.stride = {1};
    Sequential model;
    model.add(std::make_unique<ConvLayer>(conv1, rng, Initializer::he_normal));
    model.add(std::make_unique<ReLU>());
    model.add(std::make_unique<ConvLayer>(conv2, rng));
    model.add(std::make_unique<ReLU>());
    model.add(std::make_unique<GlobalAveragePool>(layout));
    model.add(std::make_unique<Dense>(4, 3, rng));
    Tensor x(make_activation_shape(conv1, 4, 3, Shape{17}));
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(rng.normal());
    const std::vector<int64_t> labels{0, 2, 1, 2};

    const Loss loss = softmax_cross_entropy(model.forward(x), labels);
    const Tensor grad_x = model.backward(loss.grad);
    auto evaluate = [&] { return model_loss(model, x, labels); };
    expect_gradient_matches(evaluate, x, grad_x, rng, "dL/dx");
    for (Parameter* p : model.parameters()) {
      const Tensor grad = p->grad;  // the loss evaluations below do not touch the gradients
      expect_gradient_matches(evaluate, p->value, grad, rng, "dL/d " + p->name);
    }
  }
}

TEST(Losses, SoftmaxCrossEntropyAndMeanSquaredError) {
  const Loss ce = softmax_cross_entropy(Tensor({2, 2}, std::vector<float>{0, 0, 1000, 0}), std::vector<int64_t>{0, 1});
  // Row 0: -log(1/2); row 1: -log(e^0 / (e^1000 + e^0)) = 1000 without overflow; averaged over 2.
  EXPECT_NEAR(ce.value, (std::log(2.0) + 1000.0) / 2.0, 1e-9);
  EXPECT_EQ(ce.grad.values(), (std::vector<float>{-0.25f, 0.25f, 0.5f, -0.5f}));
  const Loss mse = mean_squared_error(Tensor({2}, std::vector<float>{1, 3}), Tensor({2}, std::vector<float>{0, 5}));
  EXPECT_DOUBLE_EQ(mse.value, (1.0 + 4.0) / 2.0);
  EXPECT_EQ(mse.grad.values(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_THROW(softmax_cross_entropy(Tensor({1, 3}), std::vector<int64_t>{3}), Error);
  EXPECT_THROW(mean_squared_error(Tensor({2}), Tensor({3})), Error);
}

// ---------------------------------------------------------------------------------------------
// Optimizers, by hand.

TEST(Optimizers, SgdWithMomentum) {
  Parameter p{"w", Tensor({1}, std::vector<float>{1.0f}), Tensor({1}, std::vector<float>{2.0f})};
  Sgd sgd({&p}, 0.1, 0.5);
  sgd.step();  // v = -0.1 * 2 = -0.2; w = 0.8
  EXPECT_FLOAT_EQ(p.value[0], 0.8f);
  sgd.step();  // v = 0.5 * -0.2 - 0.2 = -0.3; w = 0.5
  EXPECT_FLOAT_EQ(p.value[0], 0.5f);
  EXPECT_THROW(Sgd({&p}, -1.0), Error);
}

TEST(Optimizers, AdamFirstStepsByHand) {
  Parameter p{"w", Tensor({2}, std::vector<float>{1.0f, -1.0f}), Tensor({2}, std::vector<float>{0.5f, -4.0f})};
  Adam adam({&p}, {.learning_rate = 0.1});
  adam.step();
  // t = 1: m = 0.1 g, v = 0.001 g^2, lr_t = 0.1 sqrt(0.001) / 0.1, so the step is
  // 0.1 * sqrt(0.001) * g / (sqrt(0.001) |g| + 1e-7) = 0.1 sign(g) up to epsilon.
  for (int i = 0; i < 2; ++i) {
    const double g = p.grad[i], step = 0.1 * std::sqrt(0.001) * 0.1 * g / 0.1 / (std::sqrt(0.001 * g * g) + 1e-7);
    EXPECT_NEAR(p.value[i], (i == 0 ? 1.0 : -1.0) - step, 1e-6);
  }
  const Tensor after_one = p.value;
  p.grad = Tensor({2}, std::vector<float>{0.0f, 0.0f});
  adam.step();
  // t = 2, g = 0: m = 0.09 g1, v = 0.999 * 0.001 g1^2, lr_t = 0.1 sqrt(1 - 0.999^2) / (1 - 0.81).
  const double lr_t = 0.1 * std::sqrt(1.0 - 0.999 * 0.999) / (1.0 - 0.81);
  for (int i = 0; i < 2; ++i) {
    const double g1 = i == 0 ? 0.5 : -4.0;
    const double step = lr_t * 0.09 * g1 / (std::sqrt(0.999 * 0.001 * g1 * g1) + 1e-7);
    EXPECT_NEAR(p.value[i], after_one[i] - step, 1e-6);
  }
  EXPECT_THROW(make_optimizer("rmsprop", {&p}, 0.1), Error);
}

// ---------------------------------------------------------------------------------------------
// The demonstrations.

TEST(Learning, KernelRecoveryLearnsTheReversedKernel) {
  const KernelRecoveryOptions options;
  const KernelRecoveryResult r = recover_kernel(options);
  ASSERT_EQ(r.learned_kernel.size(), options.true_kernel.size());
  const size_t k = r.true_kernel.size();
  for (size_t q = 0; q < k; ++q) EXPECT_NEAR(r.learned_kernel[q], r.true_kernel[k - 1 - q], 1e-5) << "tap " << q;
  ASSERT_EQ(r.loss.size(), static_cast<size_t>(options.steps) + 1);
  EXPECT_GT(r.loss.front(), 0.1);
  EXPECT_LT(r.loss.back(), 1e-10);
  // And not the unreversed kernel: the demonstration distinguishes the two.
  float unreversed = 0.0f;
  for (size_t q = 0; q < k; ++q) unreversed = std::max(unreversed, std::fabs(r.learned_kernel[q] - r.true_kernel[q]));
  EXPECT_GT(unreversed, 1.0);
}

TEST(Learning, ActivityDataIsReproducibleAndBalanced) {
  const ActivityData a = make_activity_data(40, 64, 5), b = make_activity_data(40, 64, 5);
  const ActivityData c = make_activity_data(40, 64, 6);
  EXPECT_EQ(a.windows.shape(), (Shape{40, 64, 3}));
  EXPECT_EQ(a.windows.values(), b.windows.values());
  EXPECT_NE(a.windows.values(), c.windows.values());
  for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(std::count(a.labels.begin(), a.labels.end(), k), 10);
}

// A short run (64-sample windows, 192 training windows, 6 epochs): a few seconds in Release.
TEST(Learning, ActivityCnnReaches95PercentOnHeldOutWindows) {
  ActivityOptions options;
  options.length = 64;
  options.train_windows = 192;
  options.test_windows = 200;
  options.epochs = 6;
  options.batch = 8;
  const ActivityResult r = train_activity_cnn(options);
  ASSERT_EQ(r.epochs.size(), 6u);
  EXPECT_LT(r.epochs.back().loss, r.epochs.front().loss);
  EXPECT_GE(r.test_accuracy, 0.95);
  int64_t total = 0;
  for (const auto& row : r.confusion)
    for (int64_t n : row) total += n;
  EXPECT_EQ(total, 200);
}

}  // namespace
}  // namespace convkit
