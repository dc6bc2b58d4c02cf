"""The scratchpad: where the operand queues between a core's access and execute units keep their entries.

As in TMU's multi-lane design, the queues that carry operands to the core live in one small buffer of
``DeviceConfig.scratchpad_bytes``. A queue's storage is its depth in entries times its entry bytes: one
element for a scalar queue, ``entry`` elements for a row queue pushed in pieces (vectors, or the buffered
pieces of ``Knobs.buffer_bytes``), the whole row for a row buffered whole (``entry`` 0; its width is known
only once the launch's sizes are bound).

Which queues share the buffer at once: the chains of traversal units run one after another and reuse the
same queues (``verify.resources`` counts them so), so the scratchpad holds one chain's queues at a time and
a launch needs what its largest chain needs. The device partitions the scratchpad once per launch and gives
every operand queue the same depth: ``queue_capacity`` entries where that fits, else as many as fit. If even
one entry per queue does not fit, the program is rejected (``DaeScratchpadError``, a ``DaeVerifyError``
naming bytes needed and held, so that a caller can push rows in smaller pieces instead).

How the timing models use the depth: they count a queue's depth in tokens (a token's operands sit in one
entry of each queue its callback pops, and a row pushed in pieces streams through its queue's entries, as
the models always counted vectorized pushes), and the control-token queue keeps step with the operand
queues, so the usable depth is the launch's token capacity. An event's tokens go to different callbacks'
queues, each of at least one entry, so one event's tokens always fit (``token_capacity``).
"""
from __future__ import annotations

from .program import Program, QueueKind
from .verify import DaeVerifyError, layer_parents


def entry_bytes(p: Program, sizes: dict[str, int]) -> dict[str, int | None]:
    """Bytes of one entry of each queue; None for a row queue whose width ``sizes`` does not bind."""
    rows = {q: s for r in p.rules for q, s in r.pushes}
    found: dict[str, int | None] = {}
    for q in p.queues:
        element = q.dtype.nbytes
        if q.kind is QueueKind.SCALAR:
            found[q.name] = element
            continue
        width = None
        if q.name in rows:
            dim = p.param(p.stream(rows[q.name]).tensor).shape[1]
            if dim.symbol is None or dim.symbol in sizes:
                width = max((sizes[dim.symbol] if dim.symbol else 0) + dim.offset, 1)
        # a piece is never wider than its row: with the width unbound, only the launch knows the bytes
        found[q.name] = None if width is None else element * (min(q.entry, width) if q.entry else width)
    return found


def chain_entry_bytes(p: Program, sizes: dict[str, int]) -> list[int | None]:
    """Per chain of traversal units, the bytes of one entry of every queue it pushes (None: not yet known)."""
    chain, chains = {}, -1
    for t, parent in zip(p.traversals, layer_parents(p)):
        chains += parent is None
        chain[t.name] = chains
    per_queue = entry_bytes(p, sizes)
    queues: list[set[str]] = [set() for _ in range(chains + 1)]
    for r in p.rules:
        queues[chain[r.traversal]].update(q for q, _ in r.pushes)
    return [None if any(per_queue[q] is None for q in qs) else sum(per_queue[q] for q in qs) for qs in queues]


class DaeScratchpadError(DaeVerifyError):
    """Not even one entry of every operand queue fits the scratchpad."""


def fit_depth(one_entry_each: int, queue_capacity: int, scratchpad_bytes: int, what: str = "the program") -> int:
    """Entries per queue when one entry of every queue takes ``one_entry_each`` bytes."""
    if one_entry_each > scratchpad_bytes:
        raise DaeScratchpadError(f"{what}'s operand queues need {one_entry_each} bytes for one entry each, but the "
                             f"scratchpad holds {scratchpad_bytes} bytes; push rows in smaller pieces "
                             f"(torch_ember's buffer_bytes knob) or use a device with a larger scratchpad")
    return max(1, min(queue_capacity, scratchpad_bytes // max(one_entry_each, 1)))


def usable_depth(p: Program, sizes: dict[str, int], queue_capacity: int, scratchpad_bytes: int) -> int | None:
    """The depth every operand queue of ``p`` gets on the device; None while some row width is unbound."""
    need = chain_entry_bytes(p, sizes)
    if any(n is None for n in need):
        return None
    return fit_depth(max(need, default=0), queue_capacity, scratchpad_bytes, f"program {p.name}")


def token_capacity(queue_depth: int | None, queue_capacity: int, max_event_tokens: int) -> int:
    """Tokens a core keeps in flight: the operand queues' usable depth (``queue_capacity`` if unlimited),
    and never fewer than one event pushes at once."""
    depth = queue_capacity if queue_depth is None else min(queue_depth, queue_capacity)
    return max(depth, min(max_event_tokens, queue_capacity))
