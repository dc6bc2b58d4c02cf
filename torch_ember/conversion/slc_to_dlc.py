"""SLC -> DLC: decoupling. Each loop becomes a traversal unit; each callback becomes a push rule on the
access side (its token, plus one queue push per access stream the callback reads) and a callback on the
execute side that pops those operands before running the compute. At this level every stream a callback
reads travels through a queue, induction variables included (queue alignment later removes that traffic).
"""
from __future__ import annotations

from dae_emulator.program import (
    AluOp, Callback, DType, Instr, OpKind, PushRule, Queue, QueueKind, Stream, StreamKind, Traversal,
    TraversalKind,
)

from ..ir.dlc import AccessConfig, DlcProgram, ExecuteLoop, verify_dlc
from ..ir.slc import LoopKind, SlcProgram

_COMPARE = {AluOp.EQ, AluOp.NE, AluOp.LT, AluOp.GE, AluOp.AND}


def _stream_dtype(stream: Stream, params) -> DType:
    if stream.kind in (StreamKind.LOAD, StreamKind.LOAD_ROW):
        return params[stream.tensor].dtype
    if stream.kind is StreamKind.ALU and stream.op in _COMPARE:
        return DType.BOOL
    return DType.I64


def decouple(slc: SlcProgram) -> DlcProgram:
    params = {p.name: p for p in slc.params}
    traversals, streams, rules, queues, callbacks = [], [], [], [], []
    vectors = {s.name: s.vector for loop in slc.all_loops() for s in loop.streams}
    for nest in slc.nests:                      # each nest is its own chain of traversal units
        parent = None
        for loop in nest.loops():
            unit = f"t_{loop.var}"
            if loop.kind is LoopKind.DENSE:
                traversals.append(Traversal(unit, TraversalKind.DENSE, parent, extent=loop.extent))
            else:
                traversals.append(Traversal(unit, TraversalKind.RANGE, parent, lo=loop.lo, hi=loop.hi))
            streams.append(Stream(loop.var, StreamKind.INDUCTION, unit))
            streams += [Stream(s.name, s.kind, unit, s.tensor, s.index, s.op, s.operands) for s in loop.streams]
            by_name = {s.name: s for s in streams}
            for n, cb in enumerate(loop.callbacks):
                token = f"{loop.var.upper()}_{cb.event.value.upper()}" + (f"_{n}" if n else "")
                read = []               # the streams the callback reads, each once, in first-read order
                for a in (a for ins in cb.body for a in ins.args):
                    if isinstance(a, str) and a in by_name and a not in read:
                        read.append(a)
                pushes, pops = [], []
                for name in read:
                    queue = f"q_{token.lower()}_{name}"
                    row = by_name[name].kind is StreamKind.LOAD_ROW
                    entry = vectors[name] if row else 0
                    queues.append(Queue(queue, QueueKind.ROW if row else QueueKind.SCALAR,
                                        _stream_dtype(by_name[name], params), entry))
                    pushes.append((queue, name))
                    pops.append(Instr(OpKind.POP, name, target=queue))
                rules.append(PushRule(unit, cb.event, token, tuple(pushes), cb.when))
                callbacks.append(Callback(token, tuple(pops) + cb.body, cb.lanes))
            parent = unit
    dlc = DlcProgram(slc.name, slc.params, AccessConfig(tuple(traversals), tuple(streams), tuple(rules)),
                     ExecuteLoop(tuple(queues), slc.accumulators, tuple(callbacks)))
    return verify_dlc(dlc)
