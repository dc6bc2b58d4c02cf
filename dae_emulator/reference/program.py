"""What each core of the reference machine runs: its events, in order, with their lines and tokens.

Built from the trace with plain loops, independently of the fast model's vectorized expansion.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from dae_emulator.config import DeviceConfig
from dae_emulator.trace import LaunchTrace, Side


@dataclass(frozen=True)
class TokenSpec:
    cycles: float             # execute-unit cycles of its callback, its dispatch included
    vector_ops: int
    scalar_ops: int
    operand_entries: int      # vector-sized pieces of its operand
    queue_entries: int = 1    # entries the access unit pushes for it, one per cycle


@dataclass
class Event:
    """One event of a core, filled while the trace is read."""

    access_lines: list[tuple[int, bool, bool]] = field(default_factory=list)  # (line, is_write, prefetch)
    execute_lines: list[tuple[int, bool, bool]] = field(default_factory=list)
    tokens: list[TokenSpec] = field(default_factory=list)


def _callback_cycles(record, config: DeviceConfig) -> float:
    """Vector instructions one a cycle, operand pops ``queue_pop_cycles`` each, the other scalar instructions
    ``scalar_issue_width`` a cycle, at least one cycle, then the dispatch."""
    width, pops = config.scalar_issue_width, record.queue_entries - 1       # pops are among the scalar ops
    issue = record.vector_ops + record.scalar_ops / width + pops * (config.queue_pop_cycles - 1 / width)
    return max(1, issue) + config.callback_dispatch_cycles


def core_programs(trace: LaunchTrace, config: DeviceConfig) -> list[list[Event]]:
    """Per core, its events in issue order; core ``c`` takes items ``[c*n//cores, (c+1)*n//cores)``, or with
    ``trace.tile``, the tiles of that many items numbered ``c``, ``c + cores``, ``c + 2 * cores``..."""
    bounds = [c * trace.num_items // config.cores for c in range(config.cores + 1)]
    events = [Event() for _ in range(trace.num_events)]
    for record in trace.accesses:
        target = "execute_lines" if record.side is Side.EXECUTE else "access_lines"
        for event, address in zip(record.event.tolist(), record.address.tolist()):
            first, last = address // config.line_bytes, (address + record.nbytes - 1) // config.line_bytes
            getattr(events[event], target).extend((line, record.is_write, record.prefetch)
                                                  for line in range(first, last + 1))
    for record in trace.tokens:
        spec = TokenSpec(
            cycles=_callback_cycles(record, config),
            vector_ops=record.vector_ops,
            scalar_ops=record.scalar_ops, operand_entries=math.ceil(record.operand_bytes / config.vector_bytes),
            queue_entries=record.queue_entries,
        )
        for event in record.event.tolist():
            events[event].tokens.append(spec)
    programs: list[list[Event]] = [[] for _ in range(config.cores)]
    for event, item in zip(events, trace.event_item.tolist()):
        if trace.tile is None:
            core = next(c for c in range(config.cores) if bounds[c] <= item < bounds[c + 1])
        else:
            core = item // trace.tile % config.cores
        programs[core].append(event)
    return programs
