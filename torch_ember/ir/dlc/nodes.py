"""DLC nodes. Logical resources only: names, unbounded counts; binding to a device is the DAE level's job."""
from __future__ import annotations

from dataclasses import dataclass

from dae_emulator.program import Accumulator, Callback, Param, Program, PushRule, Queue, Stream, Traversal


@dataclass(frozen=True)
class AccessConfig:
    traversals: tuple[Traversal, ...]
    streams: tuple[Stream, ...]
    rules: tuple[PushRule, ...]
    tile: int | None = None      # outer items per tile the cores take in turn (None: one block per core)


@dataclass(frozen=True)
class ExecuteLoop:
    queues: tuple[Queue, ...]
    accumulators: tuple[Accumulator, ...]
    callbacks: tuple[Callback, ...]


@dataclass(frozen=True)
class DlcProgram:
    name: str
    params: tuple[Param, ...]
    access: AccessConfig
    execute: ExecuteLoop

    def as_program(self, notes: tuple[str, ...] = ()) -> Program:
        """The program with its logical names, as the device's program type."""
        a, e = self.access, self.execute
        return Program(self.name, self.params, a.traversals, a.streams, a.rules, e.queues, e.accumulators,
                       e.callbacks, notes, a.tile)
