"""The execute side, evaluated per callback on all of its runs at once.

Tokens are ordered by (event, rule) — the order the access unit pushed them. A callback's runs become the
rows of every value it computes: scalars are ``(n, 1)`` tensors, rows ``(n, width)``. State carried across
tokens becomes a segment reduction: an accumulator's updates between two resets form one segment, and a
read in the resetting callback sees that segment's reduction. Where the updates of a sum are popped row
loads of a table (``RowGather``), the segments are reduced from the table and the row indices at once
(``embedding_bag``), never gathering the rows; every other use of popped rows gathers them first.
"""
from __future__ import annotations

import math

import torch

from ..errors import DaeAddressError
from ..program import Accumulator, OpKind, Program, ReduceKind
from ..trace import AccessRecord, Side, TokenRecord
from .access import AccessRun, RowGather, check_addresses, rows
from .costing import CallbackCost

TORCH_DTYPE = {
    "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16, "f64": torch.float64,
    "i32": torch.int32, "i64": torch.int64, "bool": torch.bool,
}

_BINARY = {
    OpKind.ADD: torch.add, OpKind.SUB: torch.sub, OpKind.MUL: torch.mul, OpKind.DIV: torch.div,
    OpKind.MAX: torch.maximum, OpKind.MIN: torch.minimum, OpKind.GT: torch.gt,
}


_SCATTER_REDUCE = {ReduceKind.MAX: "amax", ReduceKind.MIN: "amin", ReduceKind.PROD: "prod"}
_STORE_REDUCE = {OpKind.STORE_MAX: "amax", OpKind.STORE_MIN: "amin", OpKind.STORE_MUL: "prod"}


class Firings:
    """The runs of one callback: their order keys, events, and popped operands."""

    def __init__(self, keys: torch.Tensor, events: torch.Tensor, pops: dict[str, torch.Tensor]):
        self.keys, self.events, self.pops = keys, events, pops

    @property
    def count(self) -> int:
        return self.keys.numel()


def collect_firings(program: Program, access: AccessRun) -> dict[str, Firings]:
    per_token: dict[str, list] = {cb.token: [] for cb in program.callbacks}
    rules = len(program.rules)
    for rule_index, rule in enumerate(program.rules):
        depth = access.depth[rule.traversal]
        events = access.events(rule.traversal, rule.event)
        keep = None
        if rule.when is not None:
            keep = access.at_layer(rule.when, depth).bool()
            events = events[keep]
        pops = {}
        for queue, stream in rule.pushes:
            value = access.at_layer(stream, depth, lazy=True)
            pops[queue] = value[keep] if keep is not None else value
        per_token[rule.token].append((events * rules + rule_index, events, pops))
    firings = {}
    for token, parts in per_token.items():
        if len(parts) == 1:  # one rule per token: already in event order, no merge needed
            keys, events, pops = parts[0]
            firings[token] = Firings(keys, events, {q: _as_2d(v) for q, v in pops.items()})
            continue
        keys = torch.cat([p[0] for p in parts])
        order = torch.argsort(keys, stable=True)
        queues = parts[0][2].keys()
        pops = {q: _as_2d(_cat([p[2][q] for p in parts]))[order] for q in queues}
        firings[token] = Firings(keys[order], torch.cat([p[1] for p in parts])[order], pops)
    return firings


def _as_2d(t: torch.Tensor | RowGather) -> torch.Tensor | RowGather:
    return t.unsqueeze(1) if t.dim() == 1 else t


def _cat(parts: list) -> torch.Tensor | RowGather:
    """Concatenate popped values; row gathers of one table stay a gather."""
    if all(isinstance(p, RowGather) for p in parts) and all(p.table is parts[0].table for p in parts):
        return RowGather(parts[0].table, torch.cat([p.index for p in parts]))
    return torch.cat([rows(p) for p in parts])


def _payload_bytes(value: torch.Tensor | RowGather) -> int:
    """Queue payload of one pop of ``value``."""
    if isinstance(value, RowGather):
        return value.row_bytes() if value.shape[0] else 0
    return value[0].numel() * value.element_size() if value.shape[0] else 0


class ExecuteRun:
    """Evaluates the callbacks in an order where every accumulator is complete before it is read."""

    def __init__(self, program: Program, firings: dict[str, Firings], outputs: dict[str, torch.Tensor],
                 addresses: dict[str, int], sizes: dict[str, int], vector_bytes: int):
        self.program, self.firings, self.outputs = program, firings, outputs
        self.base, self.sizes, self.vector_bytes = addresses, sizes, vector_bytes
        self.updates: dict[str, list] = {a.name: [] for a in program.accumulators}
        self.stores: list[tuple] = []
        self.records: list[AccessRecord] = []
        self.tokens: list[TokenRecord] = []

    def run(self) -> None:
        for cb in self._order():
            self._run_callback(cb)
        for store in self.stores:
            self._apply_store(*store)

    def _order(self):
        pending, done, ordered = list(self.program.callbacks), set(), []
        writers = {a.name: {cb.token for cb in self.program.callbacks
                            for i in cb.body if i.op is OpKind.UPDATE and i.target == a.name}
                   for a in self.program.accumulators}
        while pending:
            ready = [cb for cb in pending if all(writers[i.target] <= done | {cb.token}
                                                 for i in cb.body if i.op in (OpKind.READ, OpKind.READ_ARG))]
            if not ready:
                raise ValueError(f"callbacks {[cb.token for cb in pending]} read each other's accumulators in a cycle")
            for cb in ready:
                ordered.append(cb)
                done.add(cb.token)
                pending.remove(cb)
        return ordered

    def _run_callback(self, cb) -> None:
        fire = self.firings[cb.token]
        env: dict[str, torch.Tensor] = {}
        cost = CallbackCost()
        queues = {q.name: q for q in self.program.queues}

        def val(a):
            return rows(env[a]) if isinstance(a, str) else torch.tensor(a)

        for ins in cb.body:
            if ins.op is OpKind.POP:
                out = fire.pops[ins.target]
            elif ins.op is OpKind.COUNT:
                out = torch.arange(fire.count).unsqueeze(1)
            elif ins.op in _BINARY:
                out = _BINARY[ins.op](val(ins.args[0]), val(ins.args[1]))
            elif ins.op is OpKind.SELECT:
                cond, a, b = (val(x) for x in ins.args)
                out = torch.where(cond.bool(), a, b)
            elif ins.op is OpKind.CAST:
                out = val(ins.args[0]).to(TORCH_DTYPE[ins.dtype.value])
            elif ins.op is OpKind.DOT:
                a, b = val(ins.args[0]), val(ins.args[1])
                acc = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)  # f64 stays f64
                out = (a.to(acc) * b.to(acc)).sum(1, keepdim=True)
            elif ins.op is OpKind.UPDATE:
                operands = (val(a).expand(fire.count, 1) if not isinstance(a, str) else env[a] for a in ins.args)
                self.updates[ins.target].append((fire.keys, *operands))
                out = None
            elif ins.op in (OpKind.READ, OpKind.READ_ARG):
                value, arg = self._reduce(self.program.accumulator(ins.target), fire)
                out = value if ins.op is OpKind.READ else arg
            elif ins.op is OpKind.RESET:
                out = None
            else:
                self.stores.append((cb.token, ins, fire, [val(a) for a in ins.args]))
                out = None
            if ins.result is not None:
                env[ins.result] = out if isinstance(out, (torch.Tensor, RowGather)) else torch.full((fire.count, 1), out)
            operands = [env[a] for a in ins.args if isinstance(a, str)]
            operands += [out] if isinstance(out, (torch.Tensor, RowGather)) else []
            width = max((t.shape[1] for t in operands if t.dim() == 2), default=1)
            element_bytes = max((t.element_size() for t in operands), default=4)
            cost.add(ins, width, cb, queues, self.vector_bytes, element_bytes)
        cost.finish(cb)
        payload = sum(_payload_bytes(v) for v in fire.pops.values())
        self.tokens.append(TokenRecord(cb.token, fire.events, payload, cost.vector_ops, cost.scalar_ops,
                                       cost.queue_entries))

    def _reduce(self, acc: Accumulator, fire: Firings):
        """Each reset run's view of ``acc``: the reduction of the updates since the previous reset."""
        width = (self.sizes[acc.width.symbol] if acc.width.symbol else 0) + acc.width.offset if acc.width else 1
        dtype = TORCH_DTYPE[acc.dtype.value]
        segments = fire.count
        value = torch.full((segments + 1, width), acc.init, dtype=dtype)
        arg = torch.full((segments + 1, width), acc.arg_init, dtype=torch.int64)
        if acc.tracks_arg:
            return _compare_select(acc, self.updates[acc.name], fire, value, arg)
        for keys, update in self.updates[acc.name]:
            if keys.numel() == 0:       # no token fired this update: nothing to reduce
                continue
            seg = torch.searchsorted(fire.keys, keys)
            if (acc.reduce is ReduceKind.SUM and isinstance(update, RowGather) and update.dtype == dtype
                    and dtype.is_floating_point and update.shape[1:] == (width,)):
                value += _segment_sums(update, seg, segments + 1)
                continue
            update = rows(update).to(dtype).expand(keys.numel(), width)
            if acc.reduce is ReduceKind.SUM:
                value.index_add_(0, seg, update)
            else:
                index = seg.unsqueeze(1).expand(-1, width)
                value.scatter_reduce_(0, index, update, _SCATTER_REDUCE[acc.reduce], include_self=True)
        return value[:segments], arg[:segments]

    def _apply_store(self, token: str, ins, fire: Firings, args) -> None:
        """Stores land in token order; a row store writes a whole row, an element store one element."""
        *index, value = args
        target = self.outputs[ins.target]
        index = [i.reshape(-1).long() for i in index]
        for axis, ix in enumerate(index):
            check_addresses(f"callback {token} ({ins.op.value} {ins.target})", ins.target, ix, target.shape[axis])
        row_store = len(index) == 1 and target.dim() == 2
        if len(index) == 2:  # element (i, j) of a 2-D output: address it in the flattened tensor
            index, target_view = [index[0] * target.shape[1] + index[1]], target.view(-1)
        else:
            target_view = target
        width = target.shape[1] if row_store else 1
        value = torch.as_tensor(value).to(target.dtype)
        value = torch.broadcast_to(_as_rows(value) if value.dim() else value, (fire.count, width))
        value = value if row_store else value.reshape(-1)
        position = index[0]
        if ins.op is OpKind.STORE_ADD:       # index_add_ sums duplicates in index order, as eager does
            target_view.index_add_(0, position, value)
        elif ins.op in _STORE_REDUCE:
            spread = position.unsqueeze(1).expand_as(value) if row_store else position
            target_view.scatter_reduce_(0, spread, value, _STORE_REDUCE[ins.op], include_self=True)
        else:
            target_view.index_put_((position,), value)
        row_bytes = target.element_size() * width
        address = self.base[ins.target] + position * row_bytes
        kinds = [True] if ins.op is OpKind.STORE else [False, True]
        for is_write in kinds:
            self.records.append(AccessRecord(f"{token}.{ins.target}", ins.target, Side.EXECUTE, is_write,
                                             row_store, row_bytes, fire.events, address))


def _as_rows(value: torch.Tensor) -> torch.Tensor:
    """``value`` as rows of its last dimension (which may be zero wide, where ``reshape(-1, 0)`` fails)."""
    return value.reshape(math.prod(value.shape[:-1]), value.shape[-1])


def _compare_select(acc: Accumulator, updates: list, fire: Firings, value: torch.Tensor, arg: torch.Tensor):
    """A MAX (MIN) accumulator that tracks an argument runs as a compare-and-select unit: the first update
    of a segment is taken as it is, a later one only when it is strictly greater (smaller). So the first of
    equal values keeps its argument, a NaN that comes first stays, and a NaN that comes later is never
    taken: what PyTorch's CPU embedding bag in max mode computes, value and row alike."""
    fired = [(keys, update, update_arg) for keys, update, update_arg in updates if keys.numel()]
    segments, width = value.shape[0] - 1, value.shape[1]
    if not fired:
        return value[:segments], arg[:segments]
    keys = torch.cat([k for k, _, _ in fired])
    update = torch.cat([rows(u).to(value.dtype).expand(k.numel(), width) for k, u, _ in fired])
    update_arg = torch.cat([rows(a).long().expand(k.numel(), width) for k, _, a in fired])
    if len(fired) > 1:          # updates from several instructions: into the order their tokens came in
        order = torch.argsort(keys, stable=True)
        keys, update, update_arg = keys[order], update[order], update_arg[order]
    n = keys.numel()
    seg = torch.searchsorted(fire.keys, keys)
    index = seg.unsqueeze(1).expand(-1, width)
    position = torch.arange(n).unsqueeze(1).expand(-1, width)
    first = torch.full_like(value, n, dtype=torch.int64).scatter_reduce_(0, index, position, "amin")
    nan = update.isnan()
    worst = float("-inf") if acc.reduce is ReduceKind.MAX else float("inf")
    ordered = torch.where(nan, worst, update)
    best = torch.full_like(value, worst).scatter_reduce_(0, index, ordered, _SCATTER_REDUCE[acc.reduce])
    # the first update equal to the best non-NaN one, or the first update itself when it is NaN
    first_nan = nan.gather(0, first.clamp(max=n - 1))
    winner = (~nan & (ordered == best.gather(0, index))) | first_nan.gather(0, index) & (position == first.gather(0, index))
    chosen = torch.full_like(first, n).scatter_reduce_(0, index, torch.where(winner, position, n), "amin")
    found = chosen < n
    pick = chosen.clamp(max=n - 1)
    value = torch.where(found, update.gather(0, pick), value)
    arg = torch.where(found, update_arg.gather(0, pick), arg)
    return value[:segments], arg[:segments]


def _segment_sums(update: RowGather, seg: torch.Tensor, segments: int) -> torch.Tensor:
    """Per segment, the sum of the gathered rows whose (nondecreasing) ``seg`` is that segment: the rows
    are added in order from zero, as ``index_add_`` would add them."""
    counts = torch.bincount(seg, minlength=segments)
    offsets = torch.cumsum(counts, 0) - counts
    return torch.nn.functional.embedding_bag(update.index, update.table, offsets, mode="sum")


__all__ = ["DaeAddressError", "ExecuteRun", "collect_firings", "TORCH_DTYPE"]
