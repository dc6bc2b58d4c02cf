"""SLC nodes. Leaf vocabulary (dtypes, dims, stream kinds, instructions) is the device's own, from
``dae_emulator.program``; what SLC adds is structure: loops nest, and callbacks name access streams
directly, before any queue exists."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from dae_emulator.program import Accumulator, AluOp, Dim, Event, Instr, Param, StreamKind


class LoopKind(enum.Enum):
    DENSE = "dense"
    RANGE = "range"


@dataclass(frozen=True)
class SlcStream:
    name: str
    kind: StreamKind
    tensor: str | None = None
    index: str | None = None
    op: AluOp | None = None
    operands: tuple[str | int, ...] = ()
    vector: int = 1      # row loads: elements per access-side load and queue push; 0 = the whole row as a buffer


@dataclass(frozen=True)
class SlcCallback:
    """Compute run at ``event`` of its loop. Arguments may name visible streams or earlier results."""

    event: Event
    body: tuple[Instr, ...]
    when: str | None = None
    lanes: int = 1       # vector lanes the compute on rows uses (1: scalar code)


@dataclass(frozen=True)
class SlcLoop:
    var: str                              # the induction stream's name
    kind: LoopKind
    extent: Dim | None = None             # DENSE
    lo: str | None = None                 # RANGE: streams of the enclosing loop
    hi: str | None = None
    streams: tuple[SlcStream, ...] = ()
    callbacks: tuple[SlcCallback, ...] = ()
    inner: "SlcLoop | None" = None

    def loops(self) -> list["SlcLoop"]:
        return [self] + (self.inner.loops() if self.inner else [])


@dataclass(frozen=True)
class Arange:
    """A fact known at compile time: the 1-D input ``tensor`` holds ``start + step * p`` at position ``p``
    (an index made by ``torch.arange`` in the graph, offsets of bags that all hold ``step`` rows). The
    launch checks it before it runs the program."""

    tensor: str
    start: int
    step: int


@dataclass(frozen=True)
class SlcProgram:
    """``loop`` is the program's loop nest; a batched region has further, independent ``more_nests``
    (one per table), run one after another. ``known``: facts about input values that passes may use."""

    name: str
    params: tuple[Param, ...]
    accumulators: tuple[Accumulator, ...]
    loop: SlcLoop
    more_nests: tuple[SlcLoop, ...] = ()
    known: tuple[Arange, ...] = ()

    @property
    def nests(self) -> tuple[SlcLoop, ...]:
        return (self.loop,) + self.more_nests

    def all_loops(self) -> list[SlcLoop]:
        return [loop for nest in self.nests for loop in nest.loops()]
