"""convkit.ConvSpec and convkit.Plan mirror the C++ ConvSpec and ConvPlan."""

import numpy as np
import pytest

import convkit

RNG = np.random.default_rng(4)


def test_spec_reads_back_per_axis_values():
    spec = convkit.ConvSpec(3, 8, (3, 5), stride=2, padding=(1, 2, 0, 1), bias=True)
    assert (spec.rank, spec.in_channels, spec.out_channels) == (2, 3, 8)
    assert spec.kernel == [3, 5] and spec.stride == [2, 2] and spec.dilation == [1, 1]
    assert spec.padding == [1, 2, 0, 1] and spec.padding_mode == "zeros" and spec.layout == "channels_first"
    assert spec.weight_shape == [8, 3, 3, 5] and spec.bias_shape == [8]
    assert spec.output_shape_for([2, 3, 10, 10]) == [2, 8, 5, 5]  # (10 + 1 + 0 - 3) // 2 + 1, (10 + 2 + 1 - 5) // 2 + 1
    assert "conv2d 3->8" in repr(spec)
    cl = convkit.ConvSpec(4, 6, 3, rank=1, padding="same", layout="channels_last", transposed=True, groups=2)
    assert cl.padding == "same" and cl.weight_shape == [3, 3, 4] and cl.transposed
    assert convkit.ConvSpec(3, 8, (3, 3), padding=1).padding == [1, 1, 1, 1]


def test_spec_for_arrays_is_what_conv_computes():
    x = RNG.standard_normal((2, 6, 9)).astype(np.float32)
    w = RNG.standard_normal((6, 2, 3)).astype(np.float32)
    spec = convkit.ConvSpec.for_arrays(x, w, stride=2, groups=3, transposed=True, output_padding=1)
    assert (spec.in_channels, spec.out_channels, spec.groups) == (6, 6, 3)
    np.testing.assert_array_equal(convkit.Plan(spec, w)(x),
                                  convkit.conv_transpose1d(x, w, None, 2, 0, 1, 3))


def test_plan_runs_many_times_and_explains():
    spec = convkit.ConvSpec(16, 32, (3, 3), padding=1, bias=True)
    w = RNG.standard_normal(spec.weight_shape).astype(np.float32)
    b = RNG.standard_normal(spec.bias_shape).astype(np.float32)
    plan = convkit.Plan(spec, w, b)
    assert plan.algorithm and plan.algorithm in plan.explain()
    assert plan.packed_bytes >= w.nbytes
    assert plan.workspace_bytes([1, 16, 32, 32]) >= 0
    assert "conv2d 16->32" in str(plan.spec)
    for batch in (1, 3):
        x = RNG.standard_normal((batch, 16, 12, 12)).astype(np.float32)
        np.testing.assert_array_equal(plan(x), convkit.conv2d(x, w, b, padding=1))
        out = np.empty((batch, 32, 12, 12), np.float32)
        assert plan(x, out=out) is out
        reference = convkit.Plan(spec, w, b, algorithm="reference")
        assert reference.algorithm == "reference.portable.double"
        np.testing.assert_allclose(reference(x), plan(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="channels"):
        plan(np.ones((1, 15, 12, 12), np.float32))
    with pytest.raises(ValueError, match="algorithm"):
        convkit.Plan(spec, w, b, algorithm="no-such-algorithm")


def test_plan_forces_a_kernel_by_the_name_it_reads_back():
    spec = convkit.ConvSpec(16, 32, (3, 3), padding=1, bias=True)
    w = RNG.standard_normal(spec.weight_shape).astype(np.float32)
    b = RNG.standard_normal(spec.bias_shape).astype(np.float32)
    x = RNG.standard_normal((2, 16, 12, 12)).astype(np.float32)
    portable = convkit.Plan(spec, w, b, algorithm="gemm.portable")
    assert portable.algorithm.startswith("gemm.portable.")
    again = convkit.Plan(spec, w, b, algorithm=portable.algorithm)
    assert again.algorithm == portable.algorithm
    np.testing.assert_allclose(again(x), convkit.Plan(spec, w, b)(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="the ISA 'sse9' is not one this CPU runs"):
        convkit.Plan(spec, w, b, algorithm="gemm.sse9")
    with pytest.raises(ValueError, match="gemm on portable runs gemm.portable"):
        convkit.Plan(spec, w, b, algorithm="gemm.portable.1x1")


def test_plan_with_threads_option_is_bit_identical():
    spec = convkit.ConvSpec(8, 8, (3, 3), padding="same", groups=8)
    w = RNG.standard_normal(spec.weight_shape).astype(np.float32)
    x = RNG.standard_normal((2, 8, 31, 29)).astype(np.float32)
    np.testing.assert_array_equal(convkit.Plan(spec, w, threads=1)(x), convkit.Plan(spec, w, threads=2)(x))
