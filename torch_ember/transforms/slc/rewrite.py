"""The one traversal every SLC pass shares: rebuild the loop nest with streams and callbacks rewritten."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ...ir.slc import SlcCallback, SlcLoop, SlcProgram, SlcStream, verify_slc


def rewrite(p: SlcProgram, *, stream: Callable[[SlcLoop, SlcStream], SlcStream] = lambda loop, s: s,
            callback: Callable[[SlcLoop, SlcCallback], SlcCallback] = lambda loop, cb: cb) -> SlcProgram:
    def walk(loop: SlcLoop) -> SlcLoop:
        return replace(loop, streams=tuple(stream(loop, s) for s in loop.streams),
                       callbacks=tuple(callback(loop, cb) for cb in loop.callbacks),
                       inner=walk(loop.inner) if loop.inner else None)
    return verify_slc(replace(p, loop=walk(p.loop), more_nests=tuple(walk(n) for n in p.more_nests)))


def row_streams(p: SlcProgram) -> set[str]:
    from dae_emulator.program import StreamKind
    return {s.name for loop in p.all_loops() for s in loop.streams if s.kind is StreamKind.LOAD_ROW}


def used_names(p: SlcProgram) -> set[str]:
    """Every name something reads: stream indices and operands, loop bounds, callback arguments and
    predicates."""
    used: set[str] = set()
    for loop in p.all_loops():
        used.update(x for x in (loop.lo, loop.hi) if x)
        for s in loop.streams:
            used.update(x for x in (s.index, *s.operands) if isinstance(x, str))
        for cb in loop.callbacks:
            used.update(x for x in (cb.when, *(a for ins in cb.body for a in ins.args)) if isinstance(x, str))
    return used


def all_names(p: SlcProgram) -> set[str]:
    """Every name the program defines (parameters, accumulators, loop variables, streams, values)."""
    names = {x.name for x in p.params} | {a.name for a in p.accumulators}
    for loop in p.all_loops():
        names.add(loop.var)
        names.update(s.name for s in loop.streams)
        names.update(ins.result for cb in loop.callbacks for ins in cb.body if ins.result)
    return names


def fresh(name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with a number appended, so that it is not in ``taken`` (which it joins)."""
    candidate, n = name, 1
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    taken.add(candidate)
    return candidate
