"""The execute unit in the fast model: pops an event's tokens in order and runs their callbacks.

A callback takes ``vector_ops + scalar_ops`` cycles (at least one), plus the device's dispatch cost per
callback, and can start once its event's data
has arrived and the previous callback is done. The execute unit's own accesses (stores, loads of
read-modify-writes) issue one line per cycle after the event's callbacks; it then waits for its loads,
since nothing runs ahead of the execute unit to hide them (that part lives in ``pipeline``).
"""
from __future__ import annotations

import numba
import numpy as np


def callback_cycles(vector_ops: float, scalar_ops: float, dispatch: float = 0.0) -> float:
    """Cycles of one callback: its instructions (at least one), plus the device's dispatch cost
    (``DeviceConfig.callback_dispatch_cycles``)."""
    return max(1, vector_ops + scalar_ops) + dispatch


@numba.njit(cache=True, nogil=True, _nrt=False)
def run_callbacks(
    pops: np.ndarray, core: int, pushed: int, tokens: int, cycles: float, ready: float, free: float,
) -> tuple[float, float]:
    """Pop ``tokens`` tokens ready at ``ready`` taking ``cycles`` in all; records their pop cycles in
    ``pops[core]``.

    Returns (cycle the execute unit is free again, cycles it waited for the first token).
    """
    waited = max(ready - free, 0.0)
    for j in range(tokens):
        pop = max(ready, free)
        pops[core, (pushed + j) % pops.shape[1]] = pop
        free = pop + cycles / tokens
    return free, waited
