"""Vectorization (Ember, SLC level): the access unit loads and pushes rows ``width`` elements at a time
instead of one, and callbacks that compute on rows use ``width`` vector lanes. Tails shorter than
``width`` are masked, so any row width works; results do not change."""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import StreamKind

from ...ir.slc import SlcProgram
from .rewrite import rewrite, row_streams


def vectorize(p: SlcProgram, *, width: int) -> SlcProgram:
    if width < 1:
        raise ValueError(f"vector width must be at least 1, got {width}")
    rows = row_streams(p)
    row_accumulators = {a.name for a in p.accumulators if a.width is not None}

    def on_rows(cb) -> bool:
        return any((isinstance(a, str) and a in rows) for ins in cb.body for a in ins.args) or any(
            ins.target in row_accumulators for ins in cb.body)

    return rewrite(
        p,
        stream=lambda loop, s: replace(s, vector=width) if s.kind is StreamKind.LOAD_ROW and s.vector == 1 else s,
        callback=lambda loop, cb: replace(cb, lanes=width) if on_rows(cb) else cb)
