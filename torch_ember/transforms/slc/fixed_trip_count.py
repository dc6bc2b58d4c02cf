"""Fixed-trip-count specialization (Ember, SLC level): a range loop ``[offsets[x], offsets[x + 1])`` over
offsets known to be ``start + k * p`` (bags that all hold ``k`` rows: ``F.embedding_bag`` of a 2-D input,
block-sparse attention's k picks per block) becomes a dense loop ``[0, k)`` at position ``start + k * x
+ i``. The access unit then reads no offsets: two element loads per outer iteration fewer, and the
inner loop's bounds no longer wait on memory.

The old induction variable keeps its name as an ALU stream of the new loop, so nothing inside changes.
"""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import AluOp, Dim, StreamKind

from ...ir.slc import LoopKind, SlcLoop, SlcProgram, SlcStream, verify_slc
from .rewrite import all_names, fresh, used_names


def _next_of(streams: dict[str, SlcStream], name: str) -> str | None:
    """``x`` when stream ``name`` is ``x + 1``."""
    s = streams.get(name)
    if s is None or s.kind is not StreamKind.ALU or s.op is not AluOp.ADD:
        return None
    a, b = s.operands
    return a if b == 1 and isinstance(a, str) else b if a == 1 and isinstance(b, str) else None


def _specialize(loop: SlcLoop, known, taken: set[str]) -> tuple[SlcLoop, set[str]]:
    """``loop`` with its inner range loop made dense where the offsets allow, and the outer streams that
    only fed the old bounds (to drop once nothing else reads them)."""
    inner = loop.inner
    if inner is None:
        return loop, set()
    deeper, dropped = _specialize(inner, known, taken)
    loop = replace(loop, inner=deeper)
    inner = deeper
    streams = {s.name: s for s in loop.streams}
    lo, hi = streams.get(inner.lo), streams.get(inner.hi)
    if (inner.kind is not LoopKind.RANGE or lo is None or hi is None or lo.kind is not StreamKind.LOAD
            or hi.kind is not StreamKind.LOAD or lo.tensor != hi.tensor or lo.tensor not in known
            or _next_of(streams, hi.index) != lo.index):
        return loop, dropped
    fact = known[lo.tensor]
    scaled = fresh(f"{inner.var}_base", taken)
    base = [SlcStream(scaled, StreamKind.ALU, op=AluOp.MUL, operands=(lo.index, fact.step))]
    if fact.start:
        shifted = fresh(f"{inner.var}_start", taken)
        base.append(SlcStream(shifted, StreamKind.ALU, op=AluOp.ADD, operands=(scaled, fact.start)))
        scaled = shifted
    step = fresh(f"{inner.var}_i", taken)
    position = SlcStream(inner.var, StreamKind.ALU, op=AluOp.ADD, operands=(scaled, step))
    dense = replace(inner, var=step, kind=LoopKind.DENSE, extent=Dim(None, fact.step), lo=None, hi=None,
                    streams=(position,) + inner.streams)
    return replace(loop, streams=loop.streams + tuple(base), inner=dense), dropped | {lo.name, hi.name, hi.index}


def fixed_trip_count(p: SlcProgram) -> SlcProgram:
    known = {f.tensor: f for f in p.known}
    if not known:
        return p
    taken = all_names(p)
    nests, dropped = [], set()
    for nest in p.nests:
        nest, gone = _specialize(nest, known, taken)
        nests.append(nest)
        dropped |= gone
    p = replace(p, loop=nests[0], more_nests=tuple(nests[1:]))
    while dropped:       # the old bounds' streams, unless something else still reads them
        unused = dropped - used_names(p)
        if not unused:
            break
        p = replace(p, loop=_without(p.loop, unused), more_nests=tuple(_without(n, unused) for n in p.more_nests))
        dropped -= unused
    return verify_slc(p)


def _without(loop: SlcLoop, names: set[str]) -> SlcLoop:
    return replace(loop, streams=tuple(s for s in loop.streams if s.name not in names),
                   inner=_without(loop.inner, names) if loop.inner else None)
