"""Loop fusion (Ember, SLC level): the loop nests of a batched region that walk one iteration space (dense
loops over the same extent, with no inner loop: the head, relation and tail gathers of a knowledge-graph
batch) become one loop. Its iteration loads every part's streams, and callbacks on the same event merge into
one, so the access unit runs one event per position instead of one per part and the execute unit pops one
token that carries every part's operands. Streams that became identical (two gathers through one index
tensor) are computed once.

The parts of a batched region are independent (each writes only its own outputs), so running them
interleaved, position by position, computes what running them one after another does.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram, verify_slc
from .batch import rename_in_loop as _rename


def _merge_callbacks(callbacks: list[SlcCallback]) -> tuple[SlcCallback, ...]:
    """Callbacks on the same event under the same predicate become one, bodies in order (their values
    have distinct names: every part's names carry its prefix)."""
    merged: dict[tuple, SlcCallback] = {}
    for cb in callbacks:
        key = (cb.event, cb.when)
        if key not in merged:
            merged[key] = cb
            continue
        first = merged[key]
        defined = {i.result for i in first.body if i.result}
        if defined & {i.result for i in cb.body if i.result}:
            merged[(cb.event, cb.when, len(merged))] = cb        # a name clash: keep them apart
            continue
        merged[key] = replace(first, body=first.body + cb.body, lanes=max(first.lanes, cb.lanes))
    return tuple(merged.values())


def _common_streams(loop: SlcLoop) -> SlcLoop:
    """Identical streams computed once: later copies renamed to the first (repeated until none is left)."""
    while True:
        seen, duplicate = {}, None
        for s in loop.streams:
            key = (s.kind, s.tensor, s.index, s.op, s.operands, s.vector)
            if key in seen:
                duplicate = (s.name, seen[key])
                break
            seen[key] = s.name
        if duplicate is None:
            return loop
        loop = replace(loop, streams=tuple(s for s in loop.streams if s.name != duplicate[0]))
        loop = _rename(loop, {duplicate[0]: duplicate[1]})


def _fuse(group: list[SlcLoop]) -> SlcLoop:
    first = group[0]
    streams, callbacks = list(first.streams), list(first.callbacks)
    for nest in group[1:]:
        nest = _rename(nest, {nest.var: first.var})
        streams += nest.streams
        callbacks += nest.callbacks
    return _common_streams(replace(first, streams=tuple(streams), callbacks=_merge_callbacks(callbacks)))


def fuse_loops(p: SlcProgram) -> SlcProgram:
    groups: dict = {}
    for k, nest in enumerate(p.nests):
        fusable = nest.kind is LoopKind.DENSE and nest.inner is None
        groups.setdefault(nest.extent if fusable else ("alone", k), []).append(nest)
    if len(groups) == len(p.nests):
        return p
    nests = [_fuse(group) if len(group) > 1 else group[0] for group in groups.values()]
    return verify_slc(replace(p, loop=nests[0], more_nests=tuple(nests[1:])))
