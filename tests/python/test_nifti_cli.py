"""`convkit filter` on NIfTI volumes, cross-checked with nibabel (Debian's python3-nibabel): nibabel writes
a volume, the CLI filters it, nibabel reads the result. The header (affine, qform/sform, pixdim, intent,
descrip) must come back unchanged but for the float32 datatype, and the values must equal scipy's
correlation of the same array (PyTorch's 'reflect' border is scipy's 'mirror')."""

import os
import pathlib
import subprocess

import nibabel
import numpy as np
import pytest
import scipy.ndimage

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEPT_FIELDS = ["dim", "pixdim", "qform_code", "sform_code", "quatern_b", "quatern_c", "quatern_d", "qoffset_x",
               "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z", "intent_code", "intent_p1", "intent_name",
               "descrip", "xyzt_units", "vox_offset"]


def cli():
    path = pathlib.Path(os.environ.get("CONVKIT_BUILD_DIR", ROOT / "build")) / "convkit"
    if not path.exists():
        pytest.skip(f"no convkit CLI at {path} (set CONVKIT_BUILD_DIR)")
    return str(path)


def scanned_volume(tmp_path, name, byte_order, image_class=nibabel.Nifti1Image):
    """An int16 (X, Y, Z, T) volume with scaling, an oblique affine, a display range and header fields worth
    keeping, as NIfTI-1 or NIfTI-2 (image_class)."""
    rng = np.random.default_rng(14)
    values = rng.normal(100.0, 30.0, size=(9, 8, 7, 2))
    affine = np.array([[0.9, 0.1, 0.0, -40.0], [-0.1, 0.9, 0.05, 12.5], [0.0, -0.05, 1.2, 3.0], [0, 0, 0, 1]])
    image = image_class(values, affine)
    image.set_data_dtype(np.int16)  # nibabel picks scl_slope/scl_inter to fit the values
    image.set_qform(affine, code=1)
    image.header["descrip"] = b"convkit nifti test"
    image.header.set_intent("t test", (12.0,), name="tstat")
    image.header.set_xyzt_units("mm", "sec")
    image.header["cal_min"], image.header["cal_max"] = 20.0, 180.0
    if byte_order == ">":
        image = image_class(values, affine, image.header.as_byteswapped(">"))
    path = tmp_path / name
    nibabel.save(image, path)
    return path


@pytest.mark.parametrize("name, byte_order, image_class", [
    ("scan.nii.gz", "<", nibabel.Nifti1Image), ("scan.nii", ">", nibabel.Nifti1Image),
    ("scan.nii", "<", nibabel.Nifti2Image), ("scan.nii.gz", ">", nibabel.Nifti2Image)])
def test_filter_keeps_the_header_and_equals_scipy(tmp_path, name, byte_order, image_class):
    source = scanned_volume(tmp_path, name, byte_order, image_class)
    scan = nibabel.load(source)
    assert scan.header.endianness == byte_order and type(scan) is image_class
    data = scan.get_fdata()  # (X, Y, Z, T), scaled
    # An asymmetric kernel, so that a mix-up of the axes shows: convkit reads (X, Y, Z, T) as T channels of
    # (Z, Y, X), so a (3, 3, 3) kernel file is indexed [z, y, x].
    kernel = np.arange(27, dtype=np.float32).reshape(3, 3, 3) / 351.0
    np.save(tmp_path / "k.npy", kernel)
    output = tmp_path / "out.nii.gz"
    subprocess.run([cli(), "filter", str(source), "--kernel", str(tmp_path / "k.npy"), "--output", str(output)],
                   check=True, capture_output=True)

    result = nibabel.load(output)
    assert type(result) is image_class
    assert result.header.get_data_dtype() == np.dtype(byte_order + "f4")
    # The input's display range does not describe the filtered values: written as (0, 0), "unset".
    assert (scan.header["cal_min"], scan.header["cal_max"]) == (20.0, 180.0)
    assert (result.header["cal_min"], result.header["cal_max"]) == (0.0, 0.0)
    assert np.array_equal(result.affine, scan.affine)
    assert np.array_equal(result.get_qform(), scan.get_qform()) and np.array_equal(result.get_sform(), scan.get_sform())
    for field in KEPT_FIELDS:
        assert np.array_equal(result.header[field], scan.header[field]), field
    # nibabel moves scl_slope/scl_inter from the header to the array proxy: the input was scaled, the output not.
    assert scan.dataobj.slope not in (0.0, 1.0) and (result.dataobj.slope, result.dataobj.inter) == (1.0, 0.0)

    expected = np.stack([scipy.ndimage.correlate(data[..., t], kernel.transpose(2, 1, 0).astype(np.float64),
                                                 mode="mirror") for t in range(data.shape[3])], axis=-1)
    np.testing.assert_allclose(result.get_fdata(), expected, rtol=1e-5, atol=1e-3)


def test_gaussian_on_a_3d_volume(tmp_path):
    values = np.random.default_rng(3).uniform(0, 1, size=(6, 7, 8)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(values, np.diag([2.0, 2.0, 3.0, 1.0])), tmp_path / "v.nii")
    subprocess.run([cli(), "filter", str(tmp_path / "v.nii"), "--filter", "gaussian:5", "--output",
                    str(tmp_path / "g.nii")], check=True, capture_output=True)
    taps = np.array([1, 4, 6, 4, 1]) / 16.0  # OpenCV's getGaussianKernel(5) with its default sigma
    kernel = taps[:, None, None] * taps[None, :, None] * taps[None, None, :]
    result = nibabel.load(tmp_path / "g.nii")
    assert np.array_equal(result.affine, np.diag([2.0, 2.0, 3.0, 1.0]))
    np.testing.assert_allclose(result.get_fdata(), scipy.ndimage.correlate(values.astype(np.float64), kernel,
                                                                           mode="mirror"), rtol=1e-5, atol=1e-6)
