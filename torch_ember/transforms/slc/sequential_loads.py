"""Sequential gathers into plain loads (Ember, SLC level): an element load from an input known to hold
``start + step * p`` (an index made by ``torch.arange``: positional embeddings, ``x[arange(n)]``) is
replaced by that arithmetic on its own index, so the gather it feeds, ``table[indices[i]]``, becomes the
plain sequential row load ``table[start + step * i]``: no index is read from memory, and with start 0 and
step 1 the row load is indexed by the loop's induction variable itself.
"""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import AluOp, StreamKind

from ...ir.slc import SlcLoop, SlcProgram, SlcStream, verify_slc
from .batch import substitute
from .rewrite import all_names, fresh


def _arithmetic(s: SlcStream, start: int, step: int, taken: set[str]) -> tuple[SlcStream, ...]:
    if step == 1:
        return (SlcStream(s.name, StreamKind.ALU, op=AluOp.ADD, operands=(s.index, start)),)
    scaled = SlcStream(s.name, StreamKind.ALU, op=AluOp.MUL, operands=(s.index, step))
    if not start:
        return (scaled,)
    scaled = replace(scaled, name=fresh(f"{s.name}_scaled", taken))
    return scaled, SlcStream(s.name, StreamKind.ALU, op=AluOp.ADD, operands=(scaled.name, start))


def sequential_loads(p: SlcProgram) -> SlcProgram:
    known = {f.tensor: f for f in p.known}
    if not known:
        return p
    taken = all_names(p)
    same: dict[str, str] = {}       # loads of start 0, step 1: the value is the index itself

    def walk(loop: SlcLoop) -> SlcLoop:
        streams = []
        for s in loop.streams:
            fact = known.get(s.tensor) if s.kind is StreamKind.LOAD else None
            if fact is None:
                streams.append(s)
            elif fact.start == 0 and fact.step == 1:
                same[s.name] = same.get(s.index, s.index)
            else:
                streams += _arithmetic(s, fact.start, fact.step, taken)
        return replace(loop, streams=tuple(streams), inner=walk(loop.inner) if loop.inner else None)

    p = replace(p, loop=walk(p.loop), more_nests=tuple(walk(n) for n in p.more_nests))
    if same:
        p = substitute(p, lambda x: same.get(x, x), lambda symbol: symbol)
    return verify_slc(p)
