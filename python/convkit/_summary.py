"""convkit.summary: a Keras-like model summary (the rows `convkit summary MODEL.json --json` prints)."""

import json
import os

from . import _convkit


def summary(model):
    """Shapes, parameters and MACs of every layer of a Keras-like model, as `convkit summary MODEL.json --json`.

    `model` is the MODEL.json content as a dict, its JSON text (str), or the path of a MODEL.json file
    (os.PathLike). Returns {"layers": [{"name", "type", "input_shape", "output_shape", "params", "macs"}, ...],
    "total": {"params", "macs"}}; shapes are without the batch, in the model's layout (channels_last, as Keras).
    A bad model is a ValueError naming the layer and argument.
    """
    if isinstance(model, dict):
        text = json.dumps(model)
    elif isinstance(model, str):
        text = model
    elif isinstance(model, os.PathLike):
        with open(model, encoding="utf-8") as file:
            text = file.read()
    else:
        raise TypeError(f"model must be a dict, JSON text or a path, got {type(model).__name__}")
    return json.loads(_convkit._summary_json(text))
