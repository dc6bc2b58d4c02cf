"""What one run of a callback costs the execute unit, and how many queue entries its token takes.

Row operations run ``ceil(width / lanes)`` vector instructions (lanes: the callback's, at most what the
device's vector register holds), or ``width`` scalar ones in scalar code (``lanes == 1``). Popping a row
takes one pop per queue entry: one for a buffered row, ``ceil(width / entry)`` otherwise. Dispatching a
token (pop the token, branch) takes two scalar instructions, shared by the ``unroll`` tokens of one pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..program import Callback, Instr, OpKind, Queue, QueueKind

DISPATCH_OPS = 2


@dataclass
class CallbackCost:
    vector_ops: float = 0.0
    scalar_ops: float = 0.0
    queue_entries: int = 1           # the token itself

    def add(self, ins: Instr, width: int, cb: Callback, queues: dict[str, Queue], vector_bytes: int,
            element_bytes: int) -> None:
        if ins.op is OpKind.POP:
            queue = queues[ins.target]
            entries = 1 if queue.kind is QueueKind.SCALAR or queue.entry == 0 else math.ceil(width / queue.entry)
            self.queue_entries += entries
            self.scalar_ops += entries
        elif width <= 1:
            self.scalar_ops += 1
        else:
            lanes = min(cb.lanes, max(vector_bytes // element_bytes, 1))
            if lanes == 1:
                self.scalar_ops += width
            else:
                self.vector_ops += math.ceil(width / lanes)

    def finish(self, cb: Callback) -> "CallbackCost":
        self.scalar_ops += DISPATCH_OPS / cb.unroll
        return self
