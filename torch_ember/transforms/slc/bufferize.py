"""Bufferization of compound types (Ember, SLC level): a row travels as buffered pieces of ``buffer_bytes``
(the whole row as one buffer when None), each one queue entry, all consumed by one callback run, instead of
one entry per vector (or per element). Bigger pieces mean fewer queue pushes and pops, but the device keeps
its operand queues in a scratchpad (``dae_emulator.scratchpad``): the wider an entry, the fewer fit."""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import StreamKind

from ...ir.slc import SlcProgram
from .rewrite import rewrite


def bufferize(p: SlcProgram, buffer_bytes: int | None = None) -> SlcProgram:
    if buffer_bytes is not None and buffer_bytes < 1:
        raise ValueError(f"buffer_bytes must be positive or None, got {buffer_bytes}")
    dtypes = {param.name: param.dtype for param in p.params}

    def entry(s) -> int:
        return 0 if buffer_bytes is None else max(buffer_bytes // dtypes[s.tensor].nbytes, 1)

    return rewrite(p, stream=lambda loop, s: replace(s, vector=entry(s)) if s.kind is StreamKind.LOAD_ROW else s)
