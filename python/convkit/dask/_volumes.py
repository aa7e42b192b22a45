"""NIfTI volumes (.nii, .nii.gz) in and out through nibabel, keeping the affine.

zarr and numpy need nothing of ours: dask.array.from_zarr / to_zarr, dask.array.from_array / .compute().
A NIfTI file is read lazily, chunk by chunk, from nibabel's array proxy (an uncompressed .nii reads
only the chunk's bytes; a .nii.gz decompresses from the start of the stream for each chunk, so chunk
along the last axis for big .gz files, or convert them to zarr once). Writing a NIfTI file needs the
whole result in the client's memory (nibabel writes one array): use zarr for results that do not fit.
"""

import os
import tempfile

import dask.array as da
import numpy as np


def from_nifti(path, chunks="auto"):
    """(volume, affine): the NIfTI image at `path` as a lazy float dask array (x, y, z[, t...]) and its 4x4 affine.

    Integer images come back as float32 (with the header's scl_slope/scl_inter applied, as nibabel does).
    Add the channel (and batch) axis with volume[None] (channels_first) or volume[..., None] (channels_last).
    """
    import nibabel

    path = os.fspath(path)
    try:
        image = nibabel.load(path)
    except (OSError, nibabel.filebasedimages.ImageFileError) as error:
        raise ValueError(f"path={path!r} is not a readable NIfTI image: {error}") from None
    if not isinstance(image, (nibabel.Nifti1Image, nibabel.Nifti2Image)):
        raise ValueError(f"path={path!r} is a {type(image).__name__}; expected a NIfTI-1 or NIfTI-2 image")
    proxy = image.dataobj
    dtype = np.result_type(proxy.dtype, np.float32) if getattr(proxy, "is_scaled", False) else proxy.dtype
    volume = da.from_array(proxy, chunks=chunks, asarray=True, fancy=False, meta=np.empty((0,) * len(proxy.shape), dtype))
    if volume.dtype.kind != "f":
        volume = volume.astype(np.float32)
    return volume, image.affine


def to_nifti(volume, path, affine):
    """Write `volume` (spatial axes first, as from_nifti returns; a dask or numpy array) to `path` with `affine`,
    as float32: NIfTI-1, or NIfTI-2 when a dimension exceeds NIfTI-1's 32767. The file appears whole or not
    at all (written next to it, then renamed)."""
    import nibabel

    path = os.fspath(path)
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"affine has shape {affine.shape}; expected (4, 4)")
    data = np.asarray(volume.compute() if isinstance(volume, da.Array) else volume, dtype=np.float32)
    if not 1 <= data.ndim <= 7:
        raise ValueError(f"volume has {data.ndim} dimensions; NIfTI holds 1 to 7")
    suffix = ".nii.gz" if path.endswith(".nii.gz") else ".nii" if path.endswith(".nii") else None
    if suffix is None:
        raise ValueError(f"path={path!r} must end in .nii or .nii.gz")
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(suffix=suffix, dir=directory)
    os.close(handle)
    try:
        image_class = nibabel.Nifti2Image if max(data.shape) > 32767 else nibabel.Nifti1Image  # int16 dims
        nibabel.save(image_class(data, affine), temporary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
