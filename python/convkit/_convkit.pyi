# Type stubs of the compiled extension (python/src/*.cc); convkit/__init__.py re-exports these names.
from os import PathLike
from typing import Any, Literal, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
Float32Array = npt.NDArray[np.float32]
IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], Literal["valid", "same", "same_lower"]]
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
Layout = Literal["channels_first", "channels_last"]
Accuracy = Literal["fast", "strict"]

def set_num_threads(threads: int) -> None: ...
def get_num_threads() -> int: ...

def conv1d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrTuple = 1,
           padding: Padding = 0, dilation: IntOrTuple = 1, groups: int = 1, *, padding_mode: PaddingMode = "zeros",
           flip: bool = False, layout: Layout = "channels_first", accuracy: Accuracy = "fast",
           out: Optional[Float32Array] = None) -> Float32Array: ...
def conv2d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrTuple = 1,
           padding: Padding = 0, dilation: IntOrTuple = 1, groups: int = 1, *, padding_mode: PaddingMode = "zeros",
           flip: bool = False, layout: Layout = "channels_first", accuracy: Accuracy = "fast",
           out: Optional[Float32Array] = None) -> Float32Array: ...
def conv3d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrTuple = 1,
           padding: Padding = 0, dilation: IntOrTuple = 1, groups: int = 1, *, padding_mode: PaddingMode = "zeros",
           flip: bool = False, layout: Layout = "channels_first", accuracy: Accuracy = "fast",
           out: Optional[Float32Array] = None) -> Float32Array: ...
def conv_transpose1d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrTuple = 1,
                     padding: Padding = 0, output_padding: IntOrTuple = 0, groups: int = 1, dilation: IntOrTuple = 1, *,
                     output_shape: Optional[IntOrTuple] = None, padding_mode: PaddingMode = "zeros", flip: bool = False,
                     layout: Layout = "channels_first", accuracy: Accuracy = "fast",
                     out: Optional[Float32Array] = None) -> Float32Array: ...
def conv_transpose2d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrTuple = 1,
                     padding: Padding = 0, output_padding: IntOrTuple = 0, groups: int = 1, dilation: IntOrTuple = 1, *,
                     output_shape: Optional[IntOrTuple] = None, padding_mode: PaddingMode = "zeros", flip: bool = False,
                     layout: Layout = "channels_first", accuracy: Accuracy = "fast",
                     out: Optional[Float32Array] = None) -> Float32Array: ...
def conv_transpose3d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrTuple = 1,
                     padding: Padding = 0, output_padding: IntOrTuple = 0, groups: int = 1, dilation: IntOrTuple = 1, *,
                     output_shape: Optional[IntOrTuple] = None, padding_mode: PaddingMode = "zeros", flip: bool = False,
                     layout: Layout = "channels_first", accuracy: Accuracy = "fast",
                     out: Optional[Float32Array] = None) -> Float32Array: ...
def conv(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, *, stride: IntOrTuple = 1,
         padding: Padding = 0, dilation: IntOrTuple = 1, groups: int = 1, transposed: bool = False,
         output_padding: IntOrTuple = 0, output_shape: Optional[IntOrTuple] = None, padding_mode: PaddingMode = "zeros",
         flip: bool = False, layout: Layout = "channels_first", accuracy: Accuracy = "fast",
         out: Optional[Float32Array] = None) -> Float32Array: ...

class ConvSpec:
    def __init__(self, in_channels: int, out_channels: int, kernel: IntOrTuple, *, stride: IntOrTuple = 1,
                 padding: Padding = 0, dilation: IntOrTuple = 1, groups: int = 1, bias: bool = False,
                 transposed: bool = False, output_padding: IntOrTuple = 0, output_shape: Optional[IntOrTuple] = None,
                 padding_mode: PaddingMode = "zeros", flip: bool = False, layout: Layout = "channels_first",
                 rank: Optional[int] = None) -> None: ...
    @staticmethod
    def for_arrays(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, *, stride: IntOrTuple = 1,
                   padding: Padding = 0, dilation: IntOrTuple = 1, groups: int = 1, transposed: bool = False,
                   output_padding: IntOrTuple = 0, output_shape: Optional[IntOrTuple] = None,
                   padding_mode: PaddingMode = "zeros", flip: bool = False,
                   layout: Layout = "channels_first") -> ConvSpec: ...
    rank: int
    in_channels: int
    out_channels: int
    kernel: list[int]
    stride: list[int]
    dilation: list[int]
    padding: Union[list[int], str]
    padding_mode: str
    groups: int
    bias: bool
    transposed: bool
    output_padding: list[int]
    output_shape: Optional[list[int]]
    flip: bool
    layout: str
    weight_shape: list[int]
    bias_shape: list[int]
    def output_shape_for(self, input_shape: Sequence[int]) -> list[int]: ...

class Plan:
    def __init__(self, spec: ConvSpec, weight: ArrayLike, bias: Optional[ArrayLike] = None, *, algorithm: str = "",
                 threads: int = 0, accuracy: Accuracy = "fast") -> None: ...
    def __call__(self, input: ArrayLike, *, out: Optional[Float32Array] = None) -> Float32Array: ...
    spec: ConvSpec
    algorithm: str
    packed_bytes: int
    def explain(self) -> str: ...
    def workspace_bytes(self, input_shape: Sequence[int]) -> int: ...

def conv_backward_data(grad_output: ArrayLike, weight: ArrayLike, input_shape: Sequence[int], spec: ConvSpec, *,
                       accuracy: Accuracy = "fast", out: Optional[Float32Array] = None) -> Float32Array: ...
def conv_backward_weights(input: ArrayLike, grad_output: ArrayLike, spec: ConvSpec, *,
                          out: Optional[Float32Array] = None) -> Float32Array: ...
def conv_backward_bias(grad_output: ArrayLike, spec: ConvSpec, *, out: Optional[Float32Array] = None) -> Float32Array: ...

class Composite:
    kind: str
    stages: list[tuple[str, Union[ConvSpec, dict[str, int]]]]
    weight_shapes: list[list[int]]

def depthwise_separable(layer: ConvSpec, depth_multiplier: int = 1) -> Composite: ...
def spatial_separable(layer: ConvSpec) -> Composite: ...
def flattened(layer: ConvSpec) -> Composite: ...
def shuffled_grouped(first: ConvSpec, second: ConvSpec) -> Composite: ...

class CompositePlan:
    def __init__(self, composite: Composite, weights: Sequence[Union[ArrayLike, tuple[ArrayLike, Optional[ArrayLike]]]],
                 *, fuse: bool = True, threads: int = 0, accuracy: Accuracy = "fast") -> None: ...
    def __call__(self, input: ArrayLike, *, out: Optional[Float32Array] = None) -> Float32Array: ...
    composite: Composite
    fused: bool
    algorithm: str
    def explain(self) -> str: ...
    def output_shape_for(self, input_shape: Sequence[int]) -> list[int]: ...

def factor_separable(kernel: ArrayLike, tolerance: float = 1e-6) -> tuple[bool, float, list[Float32Array]]: ...
def cost(operation: Union[ConvSpec, Composite], input_shape: Sequence[int]) -> dict[str, Any]: ...
def receptive_field(stack: Sequence[ConvSpec]) -> dict[str, list[float]]: ...
def _summary_json(json_text: str) -> str: ...
