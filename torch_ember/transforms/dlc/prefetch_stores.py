"""Store placement (Ember, DLC level): a read-modify-write row store (``store_add``, ``store_max``, ...)
makes the execute unit read its destination row and wait for it, the latency a DAE machine exists to hide.
This pass places that read on the access unit, ahead of the callback: the push rule's traversal unit gets a
``prefetch_row`` stream of the destination row, at the index the token carries, so the line is in the
cache (or on its way) when the callback runs. The prefetch has no value and carries nothing; how far ahead
it runs is how far the access unit runs ahead, the queues' depth. The store itself stays on the execute
unit: its value exists only there, and two updates of one row must land in order.

Only rows whose index arrives through a queue are prefetched, and only from rules without a predicate (a
skipped token would prefetch a row nobody updates).
"""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import STORE_KINDS, OpKind, Stream, StreamKind

from ...ir.dlc import DlcProgram, verify_dlc
from ..slc.rewrite import fresh

_READ_MODIFY_WRITE = STORE_KINDS - {OpKind.STORE}


def prefetch_stores(p: DlcProgram) -> DlcProgram:
    rows = {param.name for param in p.params if param.is_output and len(param.shape) == 2}
    taken = {s.name for s in p.access.streams}
    callbacks = {cb.token: cb for cb in p.execute.callbacks}
    added, seen = [], set()
    for rule in p.access.rules:
        if rule.when is not None:
            continue
        callback = callbacks[rule.token]
        stream_of_queue = dict(rule.pushes)
        popped = {i.result: stream_of_queue[i.target] for i in callback.body if i.op is OpKind.POP}
        for ins in callback.body:
            if ins.op not in _READ_MODIFY_WRITE or ins.target not in rows or len(ins.args) != 2:
                continue
            index = popped.get(ins.args[0])
            if index is None or (rule.traversal, ins.target, index) in seen:
                continue
            seen.add((rule.traversal, ins.target, index))
            name = fresh(f"ahead_{ins.target}_{index}", taken)
            added.append(Stream(name, StreamKind.PREFETCH_ROW, rule.traversal, tensor=ins.target, index=index))
    if not added:
        return p
    return verify_dlc(replace(p, access=replace(p.access, streams=p.access.streams + tuple(added))))
