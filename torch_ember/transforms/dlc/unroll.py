"""Unrolling (Ember, DLC level, execute side): the execute loop dispatches ``factor`` tokens of a callback
per pass, so the token pop and branch are paid once per ``factor`` runs. Applied to the callbacks that run
most often: those sent from the innermost traversal unit of each chain (a batched region has one chain
per table)."""
from __future__ import annotations

from dataclasses import replace

from ...ir.dlc import DlcProgram, verify_dlc


def unroll(p: DlcProgram, *, factor: int) -> DlcProgram:
    if factor < 1:
        raise ValueError(f"unroll factor must be at least 1, got {factor}")
    parents = {t.parent for t in p.access.traversals}
    innermost = {t.name for t in p.access.traversals if t.name not in parents}
    hot = {r.token for r in p.access.rules if r.traversal in innermost}
    callbacks = tuple(replace(cb, unroll=factor) if cb.token in hot else cb for cb in p.execute.callbacks)
    return verify_dlc(replace(p, execute=replace(p.execute, callbacks=callbacks)))
