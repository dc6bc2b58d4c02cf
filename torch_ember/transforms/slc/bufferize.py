"""Bufferization of compound types (Ember, SLC level): a whole row travels as one buffer, pushed as one
queue entry and consumed by one callback run, instead of one entry per vector (or per element)."""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import StreamKind

from ...ir.slc import SlcProgram
from .rewrite import rewrite


def bufferize(p: SlcProgram) -> SlcProgram:
    return rewrite(p, stream=lambda loop, s: replace(s, vector=0) if s.kind is StreamKind.LOAD_ROW else s)
