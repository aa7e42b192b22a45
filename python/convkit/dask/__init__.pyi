# Type stubs for convkit.dask (the functions are made by factories in __init__.py; these give editors and
# type checkers their real signatures).
from os import PathLike
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import dask.array as da
import numpy as np
import numpy.typing as npt

from .._convkit import ConvSpec
from .._convkit import IntOrTuple as _PerAxis
from .._convkit import Layout as _Layout
from .._convkit import Padding as _Padding
from .._convkit import PaddingMode as _PaddingMode

_Array = Union[da.Array, npt.ArrayLike]
_Model = Union[Mapping[str, Any], str, PathLike[str]]

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]]

class Activation:
    name: str
    def __init__(self, function: Union[str, Callable[[np.ndarray], np.ndarray]]) -> None: ...
    def __call__(self, block: np.ndarray) -> np.ndarray: ...

class Conv:
    weight: np.ndarray
    bias: Optional[np.ndarray]
    spec: ConvSpec
    def __init__(self, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None, *, stride: _PerAxis = 1,
                 padding: _Padding = 0, dilation: _PerAxis = 1, groups: int = 1, transposed: bool = False,
                 output_padding: _PerAxis = 0, output_shape: Optional[Sequence[int]] = None,
                 padding_mode: _PaddingMode = "zeros", flip: bool = False, layout: _Layout = "channels_first") -> None: ...
    @property
    def rank(self) -> int: ...

_Layer = Union[Conv, Activation, str, Callable[[np.ndarray], np.ndarray]]

def apply(model: Union[Sequence[_Layer], _Model], volume: _Array,
          weights: Optional[Sequence[Union[npt.ArrayLike, tuple[npt.ArrayLike, npt.ArrayLike]]]] = None, *,
          threads: int = 1) -> da.Array: ...
def layers_from_model(model: _Model,
                      weights: Optional[Sequence[Union[npt.ArrayLike, tuple[npt.ArrayLike, npt.ArrayLike]]]]
                      ) -> list[Union[Conv, Activation]]: ...
def from_nifti(path: Union[str, PathLike[str]], chunks: Any = "auto") -> tuple[da.Array, np.ndarray]: ...
def to_nifti(volume: _Array, path: Union[str, PathLike[str]], affine: npt.ArrayLike) -> None: ...

def conv1d(input: _Array, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None, stride: _PerAxis = 1,
           padding: _Padding = 0, dilation: _PerAxis = 1, groups: int = 1, *, padding_mode: _PaddingMode = "zeros",
           flip: bool = False, layout: _Layout = "channels_first", threads: int = 1) -> da.Array: ...
def conv2d(input: _Array, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None, stride: _PerAxis = 1,
           padding: _Padding = 0, dilation: _PerAxis = 1, groups: int = 1, *, padding_mode: _PaddingMode = "zeros",
           flip: bool = False, layout: _Layout = "channels_first", threads: int = 1) -> da.Array: ...
def conv3d(input: _Array, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None, stride: _PerAxis = 1,
           padding: _Padding = 0, dilation: _PerAxis = 1, groups: int = 1, *, padding_mode: _PaddingMode = "zeros",
           flip: bool = False, layout: _Layout = "channels_first", threads: int = 1) -> da.Array: ...
def conv_transpose1d(input: _Array, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None,
                     stride: _PerAxis = 1, padding: _Padding = 0, output_padding: _PerAxis = 0, groups: int = 1,
                     dilation: _PerAxis = 1, *, output_shape: Optional[Sequence[int]] = None,
                     padding_mode: _PaddingMode = "zeros", flip: bool = False, layout: _Layout = "channels_first",
                     threads: int = 1) -> da.Array: ...
def conv_transpose2d(input: _Array, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None,
                     stride: _PerAxis = 1, padding: _Padding = 0, output_padding: _PerAxis = 0, groups: int = 1,
                     dilation: _PerAxis = 1, *, output_shape: Optional[Sequence[int]] = None,
                     padding_mode: _PaddingMode = "zeros", flip: bool = False, layout: _Layout = "channels_first",
                     threads: int = 1) -> da.Array: ...
def conv_transpose3d(input: _Array, weight: npt.ArrayLike, bias: Optional[npt.ArrayLike] = None,
                     stride: _PerAxis = 1, padding: _Padding = 0, output_padding: _PerAxis = 0, groups: int = 1,
                     dilation: _PerAxis = 1, *, output_shape: Optional[Sequence[int]] = None,
                     padding_mode: _PaddingMode = "zeros", flip: bool = False, layout: _Layout = "channels_first",
                     threads: int = 1) -> da.Array: ...
