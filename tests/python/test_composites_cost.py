"""Composites (plans against the stage-by-stage functional calls), rank-1 factoring, the cost model and
convkit.summary against `convkit summary --json`."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import convkit

ROOT = pathlib.Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(21)


def run_stages(composite, x, weights):
    """The composite stage by stage with the functional API (the shuffle in numpy)."""
    convs = iter(weights)
    for name, stage in composite.stages:
        if isinstance(stage, dict):
            groups = stage["shuffle_groups"]
            n, c = x.shape[:2]
            x = x.reshape((n, groups, c // groups) + x.shape[2:]).swapaxes(1, 2).reshape(x.shape)
            continue
        w, b = next(convs)
        x = convkit.conv(x, w, b, stride=stage.stride, padding=stage.padding, dilation=stage.dilation,
                         groups=stage.groups, padding_mode=stage.padding_mode)
    return x


@pytest.mark.parametrize("kind", ["depthwise_separable", "spatial_separable", "flattened", "shuffled_grouped"])
@pytest.mark.parametrize("fuse", [True, False])
def test_composite_plans_match_their_stages(kind, fuse):
    layer = convkit.ConvSpec(8, 12, (3, 3), stride=(2, 1), padding=1, bias=True)
    if kind == "depthwise_separable":
        composite = convkit.depthwise_separable(layer, 2)
    elif kind == "shuffled_grouped":
        composite = convkit.shuffled_grouped(convkit.ConvSpec(8, 12, (1, 1), groups=4),
                                             convkit.ConvSpec(12, 12, (3, 3), groups=4, padding=1, bias=True))
    else:
        composite = getattr(convkit, kind)(layer)
    weights = []
    for (name, stage), shape in zip([s for s in composite.stages if not isinstance(s[1], dict)],
                                    composite.weight_shapes):
        weights.append((RNG.standard_normal(shape).astype(np.float32),
                        RNG.standard_normal(stage.out_channels).astype(np.float32) if stage.bias else None))
    plan = convkit.CompositePlan(composite, weights, fuse=fuse)
    x = RNG.standard_normal((2, 8, 13, 11)).astype(np.float32)
    y = plan(x)
    assert list(y.shape) == plan.output_shape_for(x.shape)
    np.testing.assert_allclose(y, run_stages(composite, x, weights), rtol=1e-4, atol=1e-4)
    assert plan.algorithm and plan.explain()
    with pytest.raises(ValueError, match="weights"):
        convkit.CompositePlan(composite, weights[:-1])


def test_sobel_factors():
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    separable, residual, factors = convkit.factor_separable(sobel_x)
    assert separable and residual == 0
    assert factors[0].tolist() == [1, 2, 1] and factors[1].tolist() == [-1, 0, 1]
    assert not convkit.factor_separable(np.eye(3, dtype=np.float32))[0]


def test_seed_costs():
    # The seeds' numbers: 86,400 multiplications for a 3x3 convolution 7x7x3 -> 5x5x128, against
    # 675 + 9,600 = 10,275 depthwise separable.
    layer = convkit.ConvSpec(3, 128, (3, 3), layout="channels_last")
    assert convkit.cost(layer, (1, 7, 7, 3))["macs"] == 86_400
    separable = convkit.cost(convkit.depthwise_separable(layer), (1, 7, 7, 3))
    assert [stage["macs"] for stage in separable["stages"]] == [675, 9_600] and separable["macs"] == 10_275
    plain = convkit.cost(convkit.ConvSpec(3, 64, (7, 7), stride=2, padding=3, bias=True), [1, 3, 224, 224])
    assert plain == {"input_shape": [1, 3, 224, 224], "output_shape": [1, 64, 112, 112], "weights": 9408,
                     "biases": 64, "params": 9472, "macs": 118_013_952}
    field = convkit.receptive_field([convkit.ConvSpec(1, 1, (3, 3)), convkit.ConvSpec(1, 1, (3, 3), stride=2),
                                     convkit.ConvSpec(1, 1, (3, 3))])
    assert field == {"size": [9.0, 9.0], "jump": [2.0, 2.0]}


def cli():
    path = pathlib.Path(os.environ.get("CONVKIT_BUILD_DIR", ROOT / "build")) / "convkit"
    if not path.exists():
        pytest.skip(f"no convkit CLI at {path} (set CONVKIT_BUILD_DIR)")
    return str(path)


@pytest.mark.parametrize("name", ["mobilenet_like", "vgg16", "mobilenet", "resnet50", "c3d"])
def test_summary_rows_are_the_clis(name):
    model_path = ROOT / "examples" / "models" / f"{name}.json"
    expected = json.loads(subprocess.run([cli(), "summary", str(model_path), "--json"], check=True,
                                         capture_output=True, text=True).stdout)
    assert convkit.summary(model_path) == expected
    assert convkit.summary(json.loads(model_path.read_text())) == expected
    assert convkit.summary(model_path.read_text()) == expected


def test_summary_errors():
    with pytest.raises(ValueError, match="filters"):
        convkit.summary({"input_shape": [8, 8, 3], "layers": [{"type": "Conv2D", "kernel_size": 3}]})
    with pytest.raises(TypeError):
        convkit.summary(42)


# Keras's published totals (keras.io/api/applications; model.summary() of each) and the papers' MACs:
# VGG16 15,300 M and 1.0 MobileNet-224 569 M mult-adds (Howard et al. 2017, Tables 8 and 10), ResNet-50
# 3.8 G (He et al. 2016, Table 1).
KERAS_TOTALS = {
    "vgg16": (138357544, 0, 15.3e9, 0.02),
    "mobilenet": (4253864, 21888, 569e6, 0.001),
    "resnet50": (25636712, 53120, 3.8e9, 0.02),
}


@pytest.mark.parametrize("name", sorted(KERAS_TOTALS))
def test_summary_of_keras_applications(name):
    params, non_trainable, published_macs, tolerance = KERAS_TOTALS[name]
    total = convkit.summary(ROOT / "examples" / "models" / f"{name}.json")["total"]
    assert total["params"] == params
    assert total["non_trainable_params"] == non_trainable
    assert total["trainable_params"] == params - non_trainable
    assert total["macs"] == pytest.approx(published_macs, rel=tolerance)


def test_summary_macs_of_vgg16_by_hand():
    """VGG16's MACs from its architecture table, independently of the model file: 3x3 'same'
    convolutions (H * W * Cout * Cin * 9), 2x2 pools, then Dense 25088 -> 4096 -> 4096 -> 1000."""
    macs, size, channels = 0, 224, 3
    for filters, convs in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(convs):
            macs += size * size * filters * channels * 9
            channels = filters
        size //= 2
    features = size * size * channels
    for units in (4096, 4096, 1000):
        macs += features * units
        features = units
    rows = convkit.summary(ROOT / "examples" / "models" / "vgg16.json")
    assert rows["total"]["macs"] == macs == 15470264320
    assert [row["type"] for row in rows["layers"]].count("MaxPooling2D") == 5
