"""accuracy="strict" (direct algorithms only, within the ordering bound) through the functions, Plan, the
backward functions and convkit.torch, and outputs that read only zero padding: exactly the bias."""

import numpy as np
import pytest
import torch

import convkit
import convkit.torch as ct


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (1, 64, 14, 14)).astype(np.float32)
    w = rng.uniform(-1, 1, (64, 64, 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, 64).astype(np.float32)
    return x, w, b


def _exact(x, w, b, padding):
    return torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                      torch.from_numpy(b).double(), padding=padding).numpy()


def test_strict_plan_is_direct_and_within_the_ordering_bound():
    x, w, b = _data()
    spec = convkit.ConvSpec.for_arrays(x, w, b, padding=1)
    assert convkit.Plan(spec, w, b).algorithm.startswith("winograd")
    strict = convkit.Plan(spec, w, b, accuracy="strict")
    assert not strict.algorithm.startswith(("winograd", "fft")), strict.algorithm
    assert "winograd: declined: accuracy=strict" in strict.explain()
    # |y - y_exact| <= gamma_K * S, K = 64 * 9 + 1 terms, S = |b| + sum |w| |x|.
    k = 64 * 9 + 1
    gamma = k * 2.0**-24 / (1 - k * 2.0**-24)
    s = _exact(np.abs(x), np.abs(w), np.abs(b), 1)
    for y in (strict(x), convkit.conv2d(x, w, b, padding=1, accuracy="strict")):
        assert np.all(np.abs(y - _exact(x, w, b, 1)) <= gamma * s)


def test_padding_only_outputs_are_exactly_the_bias():
    x, w, b = _data(1)
    x = x[:, :, :8, :8].copy()
    y = convkit.conv2d(x, w, b, padding=3)  # Winograd F(4x4), the case
    ring = np.concatenate([y[0, :, 0, :], y[0, :, -1, :], y[0, :, :, 0], y[0, :, :, -1]], axis=1)
    assert np.array_equal(ring, np.repeat(b[:, None], ring.shape[1], axis=1))


def test_backward_data_and_composites_take_accuracy():
    x, w, b = _data(2)
    spec = convkit.ConvSpec.for_arrays(x, w, b, padding=1)
    dy = np.ones((1, 64, 14, 14), np.float32)
    strict = convkit.conv_backward_data(dy, w, list(x.shape), spec, accuracy="strict")
    expected = torch.nn.grad.conv2d_input(x.shape, torch.from_numpy(w).double(), torch.from_numpy(dy).double(),
                                          padding=1).numpy()
    assert np.allclose(strict, expected, rtol=0, atol=1e-4)
    layer = convkit.ConvSpec(64, 64, (3, 3), padding=1, groups=64)
    composite = convkit.depthwise_separable(layer)
    weights = [np.ones((64, 1, 3, 3), np.float32), np.ones((64, 64, 1, 1), np.float32)]
    assert convkit.CompositePlan(composite, weights, accuracy="strict")(x).shape == (1, 64, 14, 14)


@pytest.mark.parametrize("call", [
    lambda x, w: convkit.conv2d(x, w, accuracy="exact"),
    lambda x, w: convkit.Plan(convkit.ConvSpec.for_arrays(x, w), w, accuracy="exact"),
    lambda x, w: convkit.Plan(convkit.ConvSpec.for_arrays(x, w, padding=1), w, algorithm="winograd", accuracy="strict"),
])
def test_bad_accuracy_is_a_value_error(call):
    x, w, _ = _data(3)
    with pytest.raises(ValueError, match="accuracy"):
        call(x, w)


def test_torch_module_and_function_take_accuracy():
    torch.manual_seed(0)
    module = ct.Conv2d(64, 64, 3, padding=1)
    reference = torch.nn.Conv2d(64, 64, 3, padding=1)
    reference.load_state_dict(module.state_dict())
    x = torch.rand(1, 64, 14, 14, requires_grad=True)
    module.accuracy = "strict"
    y = module(x)
    assert not module._convkit_plans.entry[1].algorithm.startswith("winograd")
    y.sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    reference(x_ref).sum().backward()
    assert torch.allclose(y, reference(x_ref), atol=1e-4)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-4)
    y_fn = ct.conv2d(x, module.weight, module.bias, padding=1, accuracy="strict")
    assert torch.equal(y_fn, y)
