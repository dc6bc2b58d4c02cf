"""The execute unit in the fast model: pops an event's tokens in order and runs their callbacks.

A callback takes ``vector_ops + scalar_ops`` cycles (at least one) on the presets; a device may issue its
scalar instructions other than pops ``scalar_issue_width`` at a time and take ``queue_pop_cycles`` per
operand pop, and charges its dispatch cost per callback. A callback can start once its event's data
has arrived and the previous callback is done. The execute unit's own accesses (stores, loads of
read-modify-writes) issue one line per cycle after the event's callbacks; it then waits for its loads,
since nothing runs ahead of the execute unit to hide them (that part lives in ``pipeline``).
"""
from __future__ import annotations

import numba
import numpy as np


def callback_cycles(vector_ops: float, scalar_ops: float, dispatch: float = 0.0, pops: int = 0,
                    pop_cycles: float = 1.0, scalar_width: float = 1.0) -> float:
    """Cycles of one callback (at least one): its vector instructions one a cycle, its ``pops`` operand pops
    (counted among ``scalar_ops``) at ``pop_cycles`` each (``DeviceConfig.queue_pop_cycles``), its other
    scalar instructions ``scalar_width`` a cycle (``DeviceConfig.scalar_issue_width``), plus the dispatch
    (``DeviceConfig.callback_dispatch_cycles``)."""
    return max(1, vector_ops + scalar_ops / scalar_width + pops * (pop_cycles - 1 / scalar_width)) + dispatch


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
