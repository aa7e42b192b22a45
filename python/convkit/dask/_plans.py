"""Plans built once per worker process: a process-wide cache keyed by the stack's weight token.

A task gets the weights as one graph key all tasks of a stack depend on, so a worker receives them
once; the first task on a worker packs them into convkit Plans and later tasks (any thread) reuse them.
Plans are safe to call from several threads (design.md "Plans").
"""

import threading
from collections import OrderedDict

from .. import _convkit

_LOCK = threading.Lock()
_PLANS = OrderedDict()  # (weights token, layer number) -> Plan, least recently used first
_CAPACITY = 64  # plans of a few stacks; an old stack's plans are dropped first
built = 0  # plans this process built (the tests check that it is per worker, not per chunk)


def plan_for(token, number, spec_arguments, weight, bias, threads):
    """The Plan of conv layer `number` of the stack whose weights are `token`, built on first use."""
    global built
    key = (token, number, threads)
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
            return plan
    spec = _convkit.ConvSpec(**spec_arguments)
    plan = _convkit.Plan(spec, weight, bias, threads=threads)
    with _LOCK:
        plan = _PLANS.setdefault(key, plan)  # another thread may have built it meanwhile: keep one
        built += 1
        while len(_PLANS) > _CAPACITY:
            _PLANS.popitem(last=False)
    return plan
