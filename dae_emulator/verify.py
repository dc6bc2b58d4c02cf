"""Static legality of a DAE program: what must hold before it may run on a device.

Checked: every name defined once and before use; traversal units form chains of layers (one chain per
independent loop nest, e.g. one per table of a batched region, issued one after another); streams read
only their own layer or the layers above; each queue has exactly one consumer callback, which pops it
once per token, and every rule that sends that token pushes it exactly once (so pushes and pops match in
count and kind and the execute unit can never wait on a queue the access unit will not fill); accumulators
are read only where they are reset; stores go to outputs; each op has its number of operands; integer and
bool outputs and accumulators start at a value their dtype holds; resources fit the device, the scratchpad that
holds the operand queues included (``scratchpad``; checked here where row widths are constants, else at
launch).
"""
from __future__ import annotations

import math

from .config import DeviceConfig
from .program import (ALU_OPERANDS, OPERANDS, STORE_KINDS, DType, OpKind, Program, QueueKind, StreamKind,
                      TraversalKind)


class DaeVerifyError(ValueError):
    """A program that breaks a legality rule; the message names the offending item."""


def _unique(kind: str, names) -> set[str]:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DaeVerifyError(f"{kind} {n!r} is defined twice")
        seen.add(n)
    return seen


_INTEGER_RANGES = {DType.I32: (-2**31, 2**31 - 1), DType.I64: (-2**63, 2**63 - 1), DType.BOOL: (0, 1)}


def _check_init(kind: str, name: str, dtype: DType, init: float) -> None:
    """An integer or bool output or accumulator starts at a value its dtype holds (not -inf, not 0.5)."""
    if dtype in _INTEGER_RANGES:
        lo, hi = _INTEGER_RANGES[dtype]
        if not (math.isfinite(init) and init == int(init) and lo <= init <= hi):
            raise DaeVerifyError(f"{kind} {name} is {dtype.value} and cannot start at {init:g}")


def layer_parents(p: Program) -> list[int | None]:
    """For each traversal unit (in program order), the index of the unit it is nested in, or None for the
    outermost layer of a chain. A unit is nested in the innermost unit of the chain declared last: chains
    are declared one after another, and a layer has at most one inner layer."""
    parents: list[int | None] = []
    index = {t.name: i for i, t in enumerate(p.traversals)}
    for i, t in enumerate(p.traversals):
        if t.parent is None:
            parents.append(None)
            continue
        expected = p.traversals[i - 1].name if i else None
        if t.parent != expected or index.get(t.parent, i) >= i:
            raise DaeVerifyError(f"traversal unit {t.name} must be nested in {expected or 'nothing'}: a chain's "
                                 f"layers are declared outermost first, one inside the other")
        parents.append(index[t.parent])
    return parents


def ancestors(parents: list[int | None], layer: int) -> set[int]:
    """``layer`` and every layer enclosing it."""
    found = set()
    while layer is not None:
        found.add(layer)
        layer = parents[layer]
    return found


def verify(p: Program, device: DeviceConfig | None = None) -> Program:
    """Return ``p`` unchanged if legal, else raise ``DaeVerifyError``."""
    _unique("parameter", (x.name for x in p.params))
    _unique("traversal unit", (x.name for x in p.traversals))
    _unique("stream", (x.name for x in p.streams))
    _unique("queue", (x.name for x in p.queues))
    _unique("accumulator", (x.name for x in p.accumulators))
    _unique("callback", (x.token for x in p.callbacks))
    for kind, items in (("output", p.outputs), ("accumulator", p.accumulators)):
        for x in items:
            _check_init(kind, x.name, x.dtype, x.init)
    if p.tile is not None and (not isinstance(p.tile, int) or isinstance(p.tile, bool) or p.tile < 1):
        raise DaeVerifyError(f"tile must be a positive number of outer items, got {p.tile!r}")
    parents = layer_parents(p)
    if not parents:
        raise DaeVerifyError("a program needs at least one traversal unit")
    chain = [t.name for t in p.traversals]
    depth = {name: i for i, name in enumerate(chain)}
    inputs = {x.name: x for x in p.inputs}
    outputs = {x.name: x for x in p.outputs}
    stream_layer: dict[str, int] = {}

    def visible(stream: str, layer: int, user: str) -> None:
        if stream not in stream_layer:
            raise DaeVerifyError(f"{user} uses stream {stream!r} before it is defined")
        if stream_layer[stream] not in ancestors(parents, layer):
            raise DaeVerifyError(f"{user} runs on layer {chain[layer]} but stream {stream} lives on an inner layer "
                                 f"or another chain")

    for t in p.traversals:
        if t.kind is TraversalKind.RANGE:
            if t.parent is None or t.lo is None or t.hi is None:
                raise DaeVerifyError(f"range traversal unit {t.name} needs bounds from an enclosing layer")
            visible(t.lo, depth[t.parent], f"traversal unit {t.name}")
            visible(t.hi, depth[t.parent], f"traversal unit {t.name}")
        for s in (s for s in p.streams if s.traversal == t.name):
            layer = depth[t.name]
            if s.kind in (StreamKind.LOAD, StreamKind.LOAD_ROW):
                if s.tensor not in inputs:
                    raise DaeVerifyError(f"stream {s.name} loads {s.tensor!r}, which is not an input parameter")
                want = 2 if s.kind is StreamKind.LOAD_ROW else 1
                if len(inputs[s.tensor].shape) != want:
                    raise DaeVerifyError(f"stream {s.name}: {s.kind.value} needs a {want}-d tensor, {s.tensor} is not")
                visible(s.index, layer, f"stream {s.name}")
            elif s.kind is StreamKind.PREFETCH_ROW:
                target = inputs.get(s.tensor) or outputs.get(s.tensor)
                if target is None or len(target.shape) != 2:
                    raise DaeVerifyError(f"stream {s.name} prefetches {s.tensor!r}, which is not a 2-d parameter")
                visible(s.index, layer, f"stream {s.name}")
            elif s.kind is StreamKind.ALU:
                if len(s.operands) != ALU_OPERANDS:
                    raise DaeVerifyError(f"stream {s.name}: alu {s.op.value} takes {ALU_OPERANDS} operands, "
                                         f"got {len(s.operands)}")
                for operand in s.operands:
                    if isinstance(operand, str) and not operand.startswith("$"):
                        visible(operand, layer, f"stream {s.name}")
            stream_layer[s.name] = layer
        missing = [s.traversal for s in p.streams if s.traversal not in depth]
        if missing:
            raise DaeVerifyError(f"stream on unknown traversal unit {missing[0]!r}")

    callbacks = {cb.token: cb for cb in p.callbacks}
    pops = {cb.token: [i.target for i in cb.body if i.op is OpKind.POP] for cb in p.callbacks}
    consumer: dict[str, str] = {}
    for token, queues in pops.items():
        for q in queues:
            if q not in {x.name for x in p.queues}:
                raise DaeVerifyError(f"callback {token} pops unknown queue {q!r}")
            if q in consumer:
                raise DaeVerifyError(f"queue {q} has two consumers ({consumer[q]} and {token}); one is allowed")
            consumer[q] = token
        if len(set(queues)) != len(queues):
            raise DaeVerifyError(f"callback {token} pops the same queue twice per token")
    for r in p.rules:
        if r.traversal not in depth:
            raise DaeVerifyError(f"rule on unknown traversal unit {r.traversal!r}")
        if r.token not in callbacks:
            raise DaeVerifyError(f"rule on {r.traversal}.{r.event.value} sends token {r.token}, which has no callback")
        layer = depth[r.traversal]
        if r.when is not None:
            visible(r.when, layer, f"rule on {r.traversal}.{r.event.value}")
        pushed = [q for q, _ in r.pushes]
        if sorted(pushed) != sorted(pops[r.token]):
            raise DaeVerifyError(
                f"rule on {r.traversal}.{r.event.value} pushes {pushed or 'nothing'} with token {r.token}, "
                f"but its callback pops {pops[r.token] or 'nothing'}")
        for q, s in r.pushes:
            visible(s, layer, f"push into {q}")
            if p.stream(s).kind is StreamKind.PREFETCH_ROW:
                raise DaeVerifyError(f"push into {q}: stream {s} is a prefetch, which has no value to push")
            row = p.stream(s).kind is StreamKind.LOAD_ROW
            if row != (p.queue(q).kind is QueueKind.ROW):
                raise DaeVerifyError(f"queue {q} holds {p.queue(q).kind.value} entries but {s} is "
                                     f"{'a row' if row else 'a scalar'}")
    unused = set(callbacks) - {r.token for r in p.rules}
    if unused:
        raise DaeVerifyError(f"callback {sorted(unused)[0]} is never sent a token")
    _verify_callbacks(p, outputs)
    if device is not None:
        units, queues = resources(p, parents)
        if units > device.traversal_units:
            raise DaeVerifyError(f"{units} traversal units needed, device {device.name} has "
                                 f"{device.traversal_units}")
        if queues > device.queues:
            raise DaeVerifyError(f"{queues} queues needed, device {device.name} has {device.queues}")
        from .scratchpad import usable_depth       # the scratchpad's rule needs this module's helpers
        usable_depth(p, {}, device.queue_capacity, device.scratchpad_bytes)   # where row widths are constants
    return p


def resources(p: Program, parents: list[int | None]) -> tuple[int, int]:
    """Traversal units and queues the program needs at once. Chains run one after another, so they reuse
    the same units and queues: the need is the largest chain's."""
    chain_of, chains = [], -1
    for parent in parents:
        chains += parent is None
        chain_of.append(chains)
    chain_by_unit = {t.name: chain_of[i] for i, t in enumerate(p.traversals)}
    units = [0] * (chains + 1)
    for c in chain_of:
        units[c] += 1
    queues = [set() for _ in range(chains + 1)]
    for r in p.rules:
        queues[chain_by_unit[r.traversal]].update(q for q, _ in r.pushes)
    return max(units), max(len(q) for q in queues)


def _verify_callbacks(p: Program, outputs) -> None:
    accs = {a.name: a for a in p.accumulators}
    for cb in p.callbacks:
        defined: set[str] = set()
        updated = {i.target for i in cb.body if i.op is OpKind.UPDATE}
        reset = {i.target for i in cb.body if i.op is OpKind.RESET}
        if updated & reset:
            raise DaeVerifyError(f"callback {cb.token} both updates and resets {sorted(updated & reset)[0]}")
        for i in cb.body:
            where = f"callback {cb.token}, {i.op.value}"
            if i.op in OPERANDS and len(i.args) != OPERANDS[i.op]:
                raise DaeVerifyError(f"{where}: takes {OPERANDS[i.op]} operand(s), got {len(i.args)}")
            for a in i.args:
                if isinstance(a, str) and a not in defined:
                    raise DaeVerifyError(f"{where}: value %{a} is used before it is defined")
            if i.op in (OpKind.UPDATE, OpKind.READ, OpKind.READ_ARG, OpKind.RESET):
                if i.target not in accs:
                    raise DaeVerifyError(f"{where}: unknown accumulator {i.target!r}")
                if i.op in (OpKind.READ, OpKind.READ_ARG):
                    if i.target not in reset or i.target in updated:
                        raise DaeVerifyError(f"{where}: accumulator {i.target} may only be read in a callback "
                                             f"that resets it and does not update it")
                    if i.op is OpKind.READ_ARG and not accs[i.target].tracks_arg:
                        raise DaeVerifyError(f"{where}: accumulator {i.target} tracks no argument")
                if i.op is OpKind.UPDATE and len(i.args) != 1 + accs[i.target].tracks_arg:
                    raise DaeVerifyError(f"{where}: {i.target} takes {1 + accs[i.target].tracks_arg} operand(s)")
            if i.op in STORE_KINDS:
                if i.target not in outputs:
                    raise DaeVerifyError(f"{where}: {i.target!r} is not an output parameter")
                if len(i.args) - 1 not in (1, 2):
                    raise DaeVerifyError(f"{where}: a store takes one or two indices")
            if i.result is not None:
                if i.result in defined:
                    raise DaeVerifyError(f"{where}: value %{i.result} is assigned twice")
                defined.add(i.result)
