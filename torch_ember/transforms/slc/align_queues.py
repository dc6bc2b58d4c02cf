"""Queue alignment (Ember, SLC level): a callback that reads the induction variable of the outermost dense
loop no longer has it marshaled through a queue; the execute unit keeps it as a counter (the callback's own
run count), because that callback runs exactly once per iteration, in order.

Only callbacks without a predicate on the outermost dense loop qualify: an inner loop's runs continue
across outer iterations, and a predicate skips runs, so there the count would not equal the variable.
"""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import Instr, OpKind

from ...ir.slc import LoopKind, SlcProgram
from .rewrite import rewrite


def align_queues(p: SlcProgram) -> SlcProgram:
    outers = {id(nest) for nest in p.nests if nest.kind is LoopKind.DENSE}

    def align(loop, cb):
        if id(loop) not in outers or cb.when is not None:
            return cb
        uses = any(a == loop.var for ins in cb.body for a in ins.args)
        if not uses:
            return cb
        counter = f"{loop.var}_count"
        body = tuple(replace(ins, args=tuple(counter if a == loop.var else a for a in ins.args)) for ins in cb.body)
        return replace(cb, body=(Instr(OpKind.COUNT, counter),) + body)

    return rewrite(p, callback=align)
