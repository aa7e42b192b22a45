from os import PathLike
from types import ModuleType
from typing import Any, Union

from ._convkit import (
    Composite as Composite,
    CompositePlan as CompositePlan,
    ConvSpec as ConvSpec,
    Plan as Plan,
    conv as conv,
    conv1d as conv1d,
    conv2d as conv2d,
    conv3d as conv3d,
    conv_backward_bias as conv_backward_bias,
    conv_backward_data as conv_backward_data,
    conv_backward_weights as conv_backward_weights,
    conv_transpose1d as conv_transpose1d,
    conv_transpose2d as conv_transpose2d,
    conv_transpose3d as conv_transpose3d,
    cost as cost,
    depthwise_separable as depthwise_separable,
    factor_separable as factor_separable,
    flattened as flattened,
    get_num_threads as get_num_threads,
    receptive_field as receptive_field,
    set_num_threads as set_num_threads,
    shuffled_grouped as shuffled_grouped,
    spatial_separable as spatial_separable,
)

def summary(model: Union[dict[str, Any], str, PathLike[str]]) -> dict[str, Any]: ...

torch: ModuleType
