"""Fuse: neighbouring regions and the elementwise work between them become one region (a ReLU or a
constant scale right after a gather, a bag or a segment reduction becomes its epilogue, applied before the
store; after a row scatter, applied by a finishing program the same launch runs once every row is final),
independent embedding bags of one graph (a DLRM's tables, whose pooled outputs are concatenated) become one batched
region: one launch, the tables' loop nests one after another, the cores sharing all their bags; and row
gathers through index tensors of one length become one batched region whose loops share an iteration space.
One program has one set of compiler knobs, so only regions that ``region_knobs`` gives the same knobs are
batched together (a table tuned apart runs in a launch of its own).

Message passing: a row gather (``x[src]``, ``index_select(x, 0, src)``), optionally scaled by one weight
per row (``* w.view(-1, 1)``), scattered into rows (``index_add``, ``index_put(accumulate)``,
``index_reduce``) becomes one ``gather_scatter`` region that reads each source row once and never writes
the gathered messages to memory. Fusion needs the intermediate tensors to have no other user (in training,
a weight that needs a gradient keeps the gathered rows alive, and the regions stay apart).
"""
from __future__ import annotations

import dataclasses
import operator
from typing import Callable

import torch
import torch.fx

from ..options import EmberOptions
from ..region_spec import Epilogue, RegionKind, RegionSpec, SourceOp
from .match import RegionMatch
from .registry_base import meta, same_size
from .state import LoweringState, on_matches

aten = torch.ops.aten
_COLUMN_VIEWS = (aten.view.default, aten.unsqueeze.default, aten.reshape.default)


def _row_weights(node) -> torch.fx.Node | None:
    """A tensor of one weight per row, shaped ``[rows, 1, ...]``, or None."""
    value = meta(node)
    if value is None or value.dim() < 1 or any(s != 1 for s in value.shape[1:]):
        return None
    return node


def _messages(src: torch.fx.Node, gathers: dict) -> tuple[RegionMatch, torch.fx.Node | None, tuple[str, ...]] | None:
    """The gather (and row weights) that produce the scatter source ``src``."""
    if src in gathers and len(src.users) == 1:
        return gathers[src], None, (gathers[src].spec.op.value,)
    if src.op == "call_function" and src.target is aten.mul.Tensor and len(src.users) == 1:
        for gathered, other in (src.args, src.args[::-1]):
            if gathered in gathers and len(gathered.users) == 1 and isinstance(other, torch.fx.Node):
                weights = _row_weights(other)
                if weights is not None:
                    return gathers[gathered], weights, (gathers[gathered].spec.op.value, "mul")
    return None


@on_matches
def fuse_message_passing(matches: list[RegionMatch]) -> list[RegionMatch]:
    gathers = {m.node: m for m in matches if m.spec.kind is RegionKind.GATHER_ROWS and meta(m.args[1]).dim() == 1}
    fused, consumed = [], set()
    for m in matches:
        if m.spec.kind is not RegionKind.SCATTER_ROWS or m.spec.alpha != 1.0:
            fused.append(m)
            continue
        self, dst, src = m.args[:3]
        found = _messages(src, gathers) if isinstance(src, torch.fx.Node) else None
        if found is None:
            fused.append(m)
            continue
        gather, weights, ops = found
        x, src_index = gather.args
        spec = dataclasses.replace(m.spec, kind=RegionKind.GATHER_SCATTER, table=gather.spec.table,
                                   gathered_by=gather.spec.op, fused=ops + (m.spec.op.value,))
        args = (x, src_index, dst, self) + ((weights,) if weights is not None else ())
        fused.append(RegionMatch(m.node, spec, args))
        consumed.add(gather.node)
    return [m for m in fused if m.node not in consumed]


def _outputs_used_after(members: list[RegionMatch], order: dict) -> torch.fx.Node | None:
    """Where a batched region of ``members`` can go: after the last of their inputs is computed, provided no
    member's output is used before that point (else None)."""
    inputs = [a for m in members for a in m.args if isinstance(a, torch.fx.Node)]
    anchor = max(inputs, key=order.__getitem__)
    uses = [item for m in members for user in m.node.users
            for item in (user.users if user.target is operator.getitem else (user,))]
    if uses and min(order[u] for u in uses) <= order[anchor]:
        return None
    if any(u is m.node for u in uses for m in members):   # one member reads another's output: not independent
        return None
    return anchor


def group_name(names: list[str]) -> str:
    """One name for the tables of a batched region, as a user would write them: ``tables.{0..25}.weight``
    for ``tables.0.weight`` to ``tables.25.weight``, ``{user,item}.weight``; else the first and the last."""
    parts = [name.split(".") for name in names]
    if len({len(p) for p in parts}) == 1:
        differing = [i for i in range(len(parts[0])) if len({p[i] for p in parts}) > 1]
        if len(differing) == 1:
            i = differing[0]
            values = [p[i] for p in parts]
            numbers = [int(v) for v in values if v.isdigit()]
            if len(numbers) == len(values) and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
                middle = f"{{{numbers[0]}..{numbers[-1]}}}"
            else:
                middle = "{" + ",".join(values) + "}"
            return ".".join(parts[0][:i] + [middle] + parts[0][i + 1:])
    return f"{len(names)} tables {names[0]}..{names[-1]}"


def _by_knobs(members: list[RegionMatch], options: EmberOptions) -> list[list[RegionMatch]]:
    """``members`` in groups of equal knobs (``options.knobs_for``), each in the order given."""
    groups: dict = {}
    for m in members:
        groups.setdefault(options.knobs_for(m.spec), []).append(m)
    return list(groups.values())


def _batch(state: LoweringState, groups: list[list[RegionMatch]], order: dict,
           shares: Callable[[list[RegionMatch]], tuple[tuple, tuple]] = lambda group: ((), ())) -> LoweringState:
    """``state`` with each group of two or more that can be placed (``_outputs_used_after``) made one batched
    region; ``shares`` gives a group's (``shared``, ``same_length``) inputs."""
    batched, taken = [], set()
    for group in groups:
        anchor = _outputs_used_after(group, order) if len(group) > 1 else None
        if anchor is None:
            continue
        shared, same_length = shares(group)
        spec = RegionSpec(RegionKind.BATCHED, group_name([m.spec.table for m in group]),
                          parts=tuple(m.spec for m in group), shared=shared, same_length=same_length)
        batched.append(RegionMatch(group[0].node, spec, tuple(a for m in group for a in m.args),
                                   tuple(m.node for m in group[1:]), after=anchor))
        taken.update(m.node for m in group)
    return dataclasses.replace(state, matches=tuple(batched + [m for m in state.matches if m.node not in taken]))


def batch_embedding_bags(state: LoweringState) -> LoweringState:
    """One batched region for the forward embedding bags of the graph that have the same knobs, placed after
    the last of their inputs is computed; only when no bag's output is used before that point."""
    bags = [m for m in state.matches if m.spec.kind is RegionKind.EMBEDDING_BAG and not m.absorbs]
    if len(bags) < 2:
        return state
    order = {node: i for i, node in enumerate(bags[0].node.graph.nodes)}
    bags.sort(key=lambda m: order[m.node])
    return _batch(state, _by_knobs(bags, state.options), order)


_GATHER_KINDS = (RegionKind.EMBEDDING, RegionKind.GATHER_ROWS)


def _shared_inputs(gathers: list[RegionMatch]) -> tuple[tuple, tuple]:
    """(``shared``, ``same_length``) of a batch of row gathers: a table or an index tensor that an earlier
    part also reads is passed once; every other index tensor has the first part's length."""
    shared, same_length = [], []
    for k, m in enumerate(gathers):
        earlier = gathers[:k]
        table = next((j for j, e in enumerate(earlier) if e.args[0] is m.args[0]), None)
        if table is not None:
            shared.append((f"{RegionSpec.prefix(k)}table", f"{RegionSpec.prefix(table)}table"))
        # an index that wraps negative values (x[i]) names other rows in tables of other sizes
        index = next((j for j, e in enumerate(earlier) if e.args[1] is m.args[1] and (
            e.args[0] is m.args[0] or SourceOp.INDEX not in (e.spec.op, m.spec.op))), None)
        if index is not None:
            shared.append((f"{RegionSpec.prefix(k)}indices", f"{RegionSpec.prefix(index)}indices"))
        elif k:
            same_length.append((f"{RegionSpec.prefix(k)}indices", f"{RegionSpec.prefix(0)}indices"))
    return tuple(shared), tuple(same_length)


def batch_gathers(state: LoweringState) -> LoweringState:
    """Row gathers of one graph through index tensors of one length (a knowledge-graph batch's head,
    relation and tail lookups; several features looked up at the same positions) with the same knobs become
    one batched region per length: one launch, and loops over one iteration space that loop fusion
    (``fuse_loops``) makes one. Placed like batched bags: after the last of their inputs, when no output is
    used before that."""
    gathers = [m for m in state.matches if m.spec.kind in _GATHER_KINDS and not m.absorbs]
    if len(gathers) < 2:
        return state
    order = {node: i for i, node in enumerate(gathers[0].node.graph.nodes)}
    groups: list[list[RegionMatch]] = []
    for m in sorted(gathers, key=lambda m: order[m.node]):
        length = meta(m.args[1]).numel()
        group = next((g for g in groups if same_size(meta(g[0].args[1]).numel(), length)), None)
        if group is None:
            groups.append([m])
        else:
            group.append(m)
    groups = [same_knobs for group in groups for same_knobs in _by_knobs(group, state.options)]
    return _batch(state, groups, order, _shared_inputs)


# a row scatter's epilogue runs in a second program after it (see ``conversion.fx_to_slc.finish``)
_EPILOGUE_KINDS = {RegionKind.EMBEDDING_BAG, RegionKind.EMBEDDING, RegionKind.GATHER_ROWS, RegionKind.SEGMENT_REDUCE,
                   RegionKind.SCATTER_ROWS, RegionKind.GATHER_SCATTER}


def _main_output(m: RegionMatch) -> torch.fx.Node | None:
    if m.spec.kind is RegionKind.EMBEDDING_BAG:
        return next((u for u in m.node.users if u.target is operator.getitem and u.args[1] == 0), None)
    return m.node


def _epilogue_step(node: torch.fx.Node) -> tuple[torch.fx.Node, tuple[Epilogue, float]] | None:
    """The one user of ``node`` if it is a ReLU or a multiplication by a constant, with its epilogue op."""
    if len(node.users) != 1:
        return None
    user = next(iter(node.users))
    if user.target is aten.relu.default:
        return user, (Epilogue.RELU, 0.0)
    if user.target is aten.mul.Tensor:
        other = user.args[1] if user.args[0] is node else user.args[0]
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return user, (Epilogue.SCALE, float(other))
    return None


@on_matches
def fuse_epilogues(matches: list[RegionMatch]) -> list[RegionMatch]:
    fused = []
    for m in matches:
        out = _main_output(m) if m.spec.kind in _EPILOGUE_KINDS else None
        value = meta(out) if out is not None else None
        chain, ops = [], []
        while value is not None and value.dtype.is_floating_point and (step := _epilogue_step(chain[-1] if chain else out)):
            chain.append(step[0])
            ops.append(step[1])
        if not chain:
            fused.append(m)
            continue
        spec = dataclasses.replace(m.spec, epilogue=tuple(ops), fused=m.spec.fused + tuple(name.value for name, _ in ops))
        fused.append(dataclasses.replace(m, spec=spec, absorbs=tuple(chain)))
    return fused
