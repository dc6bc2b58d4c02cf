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
