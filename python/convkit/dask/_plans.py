"""Plans built once per worker process: a process-wide cache keyed by the stack's weight token.

A task gets the weights as one graph key all tasks of a stack depend on, so a worker receives them
once; the first task on a worker packs them into convkit Plans and later tasks (any thread) reuse them.
A layer has one plan per edge pattern of the blocks it runs on (the zero pads at the volume's edges are
the plan's own, see _blocks.zero_pads): at most 3 per spatial axis when an axis has several chunks.
Plans are safe to call from several threads (design.md "Plans").
"""

import threading
from collections import OrderedDict

from .. import _convkit

_LOCK = threading.Lock()
_PLANS = OrderedDict()  # (weights token, layer number, threads, padding) -> (Plan, weight bytes), oldest first
_CAPACITY = 256  # plans: the edge patterns of a few stacks
_CAPACITY_BYTES = 256 << 20  # their weights: a plan holds about one packed copy of its layer's weights
built = 0  # plans this process built (the tests check that it is per worker, not per chunk)


def plan_for(token, number, spec_arguments, weight, bias, threads):
    """The Plan of conv layer `number` of the stack whose weights are `token` with the block's padding
    (spec_arguments["padding"]), built on first use."""
    global built
    key = (token, number, threads, spec_arguments["padding"])
    with _LOCK:
        entry = _PLANS.get(key)
        if entry is not None:
            _PLANS.move_to_end(key)
            return entry[0]
    spec = _convkit.ConvSpec(**spec_arguments)
    plan = _convkit.Plan(spec, weight, bias, threads=threads)
    with _LOCK:
        plan = _PLANS.setdefault(key, (plan, weight.nbytes))[0]  # another thread may have built it meanwhile
        built += 1
        while len(_PLANS) > 1 and (len(_PLANS) > _CAPACITY or
                                   sum(nbytes for _, nbytes in _PLANS.values()) > _CAPACITY_BYTES):
            _PLANS.popitem(last=False)
    return plan
