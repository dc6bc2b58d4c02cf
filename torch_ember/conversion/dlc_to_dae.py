"""DLC -> DAE program: bind logical traversal units and queues to the device's numbered ones
(``tu0``.., ``q0``..) and check that the program fits the device."""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.config import DeviceConfig
from dae_emulator.program import OpKind, Program
from dae_emulator.verify import verify

from ..ir.dlc import DlcProgram


def bind_resources(dlc: DlcProgram, device: DeviceConfig) -> Program:
    units = {t.name: f"tu{i}" for i, t in enumerate(dlc.access.traversals)}
    queues = {q.name: f"q{i}" for i, q in enumerate(dlc.execute.queues)}
    traversals = tuple(replace(t, name=units[t.name], parent=units.get(t.parent)) for t in dlc.access.traversals)
    streams = tuple(replace(s, traversal=units[s.traversal]) for s in dlc.access.streams)
    rules = tuple(replace(r, traversal=units[r.traversal], pushes=tuple((queues[q], s) for q, s in r.pushes))
                  for r in dlc.access.rules)
    callbacks = tuple(
        replace(cb, body=tuple(replace(i, target=queues[i.target]) if i.op is OpKind.POP else i for i in cb.body))
        for cb in dlc.execute.callbacks)
    notes = tuple(f"{logical} -> {bound}" for logical, bound in {**units, **queues}.items())
    program = Program(dlc.name, dlc.params, traversals, streams, rules,
                      tuple(replace(q, name=queues[q.name]) for q in dlc.execute.queues),
                      dlc.execute.accumulators, callbacks, (f"bound for device {device.name}:",) + notes,
                      dlc.access.tile)
    return verify(program, device)
