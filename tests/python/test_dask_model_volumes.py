"""convkit.dask: MODEL.json stacks against Keras-shaped weights run by hand, NIfTI in/out, and the errors."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
nibabel = pytest.importorskip("nibabel")

import convkit  # noqa: E402
import convkit.dask as ckd  # noqa: E402

TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def test_model_json_stack_with_keras_weights():
    rng = np.random.default_rng(11)
    model = {"name": "tiny", "input_shape": [14, 12, 2], "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
        {"type": "DepthwiseConv2D", "kernel_size": [3, 1], "depth_multiplier": 2, "use_bias": False},
        {"type": "ReLU"},
        {"type": "Conv2DTranspose", "filters": 3, "kernel_size": 2, "strides": 2, "padding": "same",
         "activation": "tanh"},
    ]}
    k1, b1 = rng.standard_normal((3, 3, 2, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    k2 = rng.standard_normal((3, 1, 4, 2)).astype(np.float32)  # Keras depthwise (kh, kw, Cin, multiplier)
    k3, b3 = rng.standard_normal((2, 2, 3, 8)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((2, 14, 12, 2)).astype(np.float32)  # channels_last, as Keras

    # By hand with convkit's single calls (HWIO; depthwise = groups=Cin with output channel c*multiplier + m).
    y = np.maximum(convkit.conv2d(x, k1, b1, stride=2, padding="same", layout="channels_last"), 0)
    y = np.maximum(convkit.conv2d(y, k2.reshape(3, 1, 1, 8), None, groups=4, layout="channels_last"), 0)
    y = np.tanh(convkit.conv_transpose2d(y, k3, b3, stride=2, padding="same", layout="channels_last"))

    result = ckd.apply(model, da.from_array(x, chunks=(1, 5, 4, 2)), weights=[(k1, b1), k2, (k3, b3)])
    np.testing.assert_allclose(result.compute(), y, **TOLERANCE)


def test_model_json_errors_name_the_argument():
    model = {"input_shape": [8, 8, 1], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 3}]}
    volume = da.zeros((1, 8, 8, 1), chunks=4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"layers\[1\].type='LSTM'"):
        ckd.apply(dict(model, layers=model["layers"] + [{"type": "LSTM"}]), volume, weights=[np.zeros((3, 3, 1, 2))])
    with pytest.raises(ValueError, match="weights has 0 entries"):
        ckd.apply(model, volume, weights=[])
    with pytest.raises(ValueError, match=r"weights\[0\] lacks a bias"):
        ckd.apply(model, volume, weights=[np.zeros((3, 3, 1, 2))])
    with pytest.raises(ValueError, match=r"weights\[0\] kernel has shape \[3, 3, 2, 3\]"):
        ckd.apply(model, volume, weights=[(np.zeros((3, 3, 2, 3)), np.zeros(2))])
    with pytest.raises(ValueError, match="activation='softmax'"):
        ckd.apply(dict(model, layers=[dict(model["layers"][0], activation="softmax")]), volume,
                  weights=[(np.zeros((3, 3, 1, 2)), np.zeros(2))])


def test_errors_name_the_argument():
    volume = da.zeros((1, 3, 8, 8), chunks=3, dtype=np.float32)
    w = np.zeros((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="volume has dtype int32"):
        ckd.conv2d(volume.astype(np.int32), w)
    with pytest.raises(ValueError, match="to have 4 channels, but got 3"):
        ckd.conv2d(volume, np.zeros((2, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match="weight has dtype int64"):
        ckd.conv2d(volume, w.astype(np.int64))
    with pytest.raises(ValueError, match=r"layers\[1\] is a int"):
        ckd.apply([ckd.Conv(w), 42], volume)
    with pytest.raises(ValueError, match="activation='softmaxx'"):
        ckd.apply([ckd.Conv(w), "softmaxx"], volume)
    with pytest.raises(ValueError, match="a 3D convolution expects 5"):
        ckd.conv3d(volume, w)
    with pytest.raises(ValueError, match="larger than the padded input"):  # a kernel no neighbour can fill
        ckd.conv2d(volume, np.zeros((2, 3, 9, 9), np.float32))
    with pytest.raises(ValueError, match="reflect padding 8"):
        ckd.conv2d(volume, w, padding=8, padding_mode="reflect")
    with pytest.raises(ValueError, match="one rank and layout per stack"):
        ckd.apply([ckd.Conv(w), ckd.Conv(np.zeros((2, 2, 3), np.float32))], volume)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip_keeps_the_affine(tmp_path, suffix):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((9, 8, 7)).astype(np.float32)
    affine = np.diag([0.5, 0.75, 1.25, 1.0])
    affine[:3, 3] = [10, -20, 30]
    nibabel.save(nibabel.Nifti1Image(data, affine), str(tmp_path / f"in{suffix}"))

    volume, read_affine = ckd.from_nifti(tmp_path / f"in{suffix}", chunks=(4, 3, 7))
    np.testing.assert_array_equal(read_affine, affine)
    w = rng.standard_normal((1, 1, 3, 3, 3)).astype(np.float32)
    filtered = ckd.conv3d(volume[None], w, padding="same", padding_mode="replicate")[0]
    ckd.to_nifti(filtered, tmp_path / f"out{suffix}", read_affine)

    written = nibabel.load(str(tmp_path / f"out{suffix}"))
    np.testing.assert_array_equal(written.affine, affine)
    expected = convkit.conv3d(data[None, None], w, padding="same", padding_mode="replicate")[0, 0]
    np.testing.assert_allclose(np.asarray(written.dataobj), expected, **TOLERANCE)


def test_nifti_errors(tmp_path):
    (tmp_path / "bad.nii").write_bytes(b"not a nifti file")
    with pytest.raises(ValueError, match="not a readable NIfTI image"):
        ckd.from_nifti(tmp_path / "bad.nii")
    with pytest.raises(ValueError, match="must end in .nii or .nii.gz"):
        ckd.to_nifti(np.zeros((2, 2, 2)), tmp_path / "out.png", np.eye(4))
    with pytest.raises(ValueError, match=r"affine has shape \(3, 3\)"):
        ckd.to_nifti(np.zeros((2, 2, 2)), tmp_path / "out.nii", np.eye(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nii"]  # nothing half-written


def test_nifti_2_when_a_dimension_passes_32767(tmp_path):
    line = np.arange(40000, dtype=np.float32).reshape(40000, 1, 1)
    ckd.to_nifti(line, tmp_path / "line.nii", np.eye(4))
    image = nibabel.load(tmp_path / "line.nii")
    assert type(image) is nibabel.Nifti2Image and image.shape == (40000, 1, 1)
    volume, affine = ckd.from_nifti(tmp_path / "line.nii")
    assert np.array_equal(volume.compute(), line) and np.array_equal(affine, np.eye(4))
    ckd.to_nifti(line[:100], tmp_path / "short.nii", np.eye(4))
    assert type(nibabel.load(tmp_path / "short.nii")) is nibabel.Nifti1Image
