"""Randomized differential tests of the gradients (conv_backward_data / weights / bias, through the C++
backward plans) against PyTorch autograd on the float64 oracle, over the same random cases as the forward
tests (every rank, padding form and mode, groups, stride, dilation, transposed, flip, both layouts).

Tolerance: as oracle.py argues for the forward sums, 8 u (K + 2) S per cell, with K bounded by the number of
weight elements (dL/dx) or dL/dy elements (dL/dw, dL/db) and S autograd's gradient on |x|, |w|, |dy| (exactly
the sum of the absolute products)."""

import numpy as np
import pytest

import convkit

torch = pytest.importorskip("torch", reason="the differential tests need python3-torch")
import cases  # noqa: E402
import oracle  # noqa: E402

BACKWARD_CASES = 360


def autograd(case, x, w, b, dy):
    tensors = [torch.from_numpy(np.array(a, dtype=np.float64)).requires_grad_() if a is not None else None
               for a in (x, w, b)]
    y = oracle.torch_reference(case, *tensors)
    (y * torch.from_numpy(dy.astype(np.float64))).sum().backward()
    return [t.grad.numpy() if t is not None else None for t in tensors]


def check(name, actual, expected, bound):
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != torch's {expected.shape}"
    error = np.abs(actual.astype(np.float64) - expected)
    worst = np.argmax(error - bound)
    assert np.all(error <= bound), f"{name}: error {error.flat[worst]:.3g} > {bound.flat[worst]:.3g}"


@pytest.mark.parametrize("seed", range(BACKWARD_CASES))
def test_gradients_match_torch_autograd(seed):
    case, x, w, b = cases.random_case(50_000 + seed)
    if x.ndim == case["rank"] + 1:
        x = x[None]  # the gradient functions take batched inputs
    spec = convkit.ConvSpec.for_arrays(x, w, b, stride=case["stride"], padding=case["padding"],
                                       dilation=case["dilation"], groups=case["groups"], transposed=case["transposed"],
                                       output_padding=case["output_padding"], output_shape=case["output_shape"],
                                       padding_mode=case["padding_mode"], flip=case["flip"], layout=case["layout"])
    y_shape = spec.output_shape_for(x.shape)
    dy = np.random.default_rng(seed).standard_normal(y_shape).astype(np.float32)
    dx_expected, dw_expected, db_expected = autograd(case, x, w, b, dy)
    dx_size, dw_size, db_size = autograd(case, np.abs(x), np.abs(w), None if b is None else np.abs(b), np.abs(dy))

    # Each product of a dL/dx cell uses a distinct weight element, each of a dL/dw or dL/db cell a distinct
    # dL/dy element: K <= w.size and K <= dy.size.
    terms_dx, terms_dw = w.size, dy.size
    u8 = 8 * 2.0**-24
    check("dL/dx", convkit.conv_backward_data(dy, w, x.shape, spec), dx_expected, u8 * (terms_dx + 2) * dx_size + 1e-30)
    check("dL/dw", convkit.conv_backward_weights(x, dy, spec), dw_expected, u8 * (terms_dw + 2) * dw_size + 1e-30)
    if b is not None:
        check("dL/db", convkit.conv_backward_bias(dy, spec), db_expected, u8 * (terms_dw + 2) * db_size + 1e-30)


def test_bias_gradient_names_a_grad_output_that_does_not_fit():
    spec = convkit.ConvSpec(3, 4, (3, 3), bias=True)
    with pytest.raises(ValueError, match=r"grad_output of shape \[2, 5, 6, 6\] has 5 channels; expected out_channels=4"):
        convkit.conv_backward_bias(np.ones((2, 5, 6, 6), np.float32), spec)
    with pytest.raises(ValueError, match="has 3 dimensions; expected 4"):
        convkit.conv_backward_bias(np.ones((4, 6, 6), np.float32), spec)
    np.testing.assert_array_equal(convkit.conv_backward_bias(np.ones((2, 4, 6, 6), np.float32), spec), np.full(4, 72.0))
