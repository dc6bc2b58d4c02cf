"""``ShardedEmbeddingBags``: embedding-bag tables sharded over a process group, each rank's shards looked up
on its own emulated DAE device.

One step, as TorchRec's model-parallel embeddings do it: every rank holds a local batch of sparse features;
an all-to-all sends each shard's ids (row-wise: only the ids in its rows) to the rank that owns the shard;
that rank looks up the whole global batch for its shards with one module of ``nn.EmbeddingBag``s compiled by
the ember backend (so the lookups run as DAE programs and appear in ``torch_ember.report()``); a second
all-to-all, whose backward sends the gradients back the same way, returns each sample's pooled slices to the
rank that owns the sample, which joins them: column slices side by side, row-wise partial pools summed (mean:
divided by the bag's length; max: the largest over the slices whose bags are not empty).

A rank's local batch may be empty. Per-sample weights travel with the ids, outside autograd: weights that need
a gradient are refused on every rank (learned position weights train with the unsharded model).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.distributed as dist
import torch.nn as nn

from dae_emulator.config import DeviceConfig

from .comm import Exchange, agree, exchange, exchange_pooled
from .jagged import KeyedJagged, as_keyed_jagged
from .plan import Pooling, Shard, ShardingPlan, ShardKind


def _local_mode(shard: Shard) -> str:
    """A row-wise slice of a mean table sums; the owner of the sample divides by the whole bag's length."""
    if shard.kind is ShardKind.ROW_WISE and shard.table.pooling is Pooling.MEAN:
        return Pooling.SUM.value
    return shard.table.pooling.value


class LocalShards(nn.Module):
    """One rank's shards as plain ``nn.EmbeddingBag``s: what the ember backend compiles."""

    def __init__(self, shards: list[Shard]) -> None:
        super().__init__()
        self.bags = nn.ModuleList(nn.EmbeddingBag(s.rows, s.cols, mode=_local_mode(s)) for s in shards)

    def forward(self, inputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]) -> list[torch.Tensor]:
        return [bag(ids, offsets, per_sample_weights=weights)
                for bag, (ids, offsets, weights) in zip(self.bags, inputs)]


def _bag_of_each_id(lengths: torch.Tensor) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(lengths.numel()), lengths)


class ShardedEmbeddingBags(nn.Module):
    """This rank's part of ``plan``; ``forward(features)`` returns every table's pooled embeddings for this
    rank's samples, ``[batch, dim]`` each, in ``plan.tables`` order. Collective: every rank calls it.

    ``weights`` (full tables by name) initializes the shards so that they equal an unsharded model;
    ``device`` is the DAE device (preset name or config) each rank's shards run on.
    """

    def __init__(self, plan: ShardingPlan, *, device: str | DeviceConfig = "server",
                 weights: Mapping[str, torch.Tensor] | None = None, group=None) -> None:
        super().__init__()
        self.plan, self.group = plan, group
        self.rank, self.world_size = dist.get_rank(group), dist.get_world_size(group)
        if self.world_size != plan.world_size:
            raise ValueError(f"the plan is for {plan.world_size} rank(s) but the process group has {self.world_size}")
        self.shards = plan.shards_on(self.rank)
        self.local = LocalShards(self.shards)
        if weights is not None:
            with torch.no_grad():
                for shard, bag in zip(self.shards, self.local.bags):
                    full = weights[shard.table.name]
                    bag.weight.copy_(full[shard.row_start:shard.row_end, shard.col_start:shard.col_end])
        self.local.compile(backend="ember", options={"rest": "eager", "device": device})
        self.any_weighted = any(t.weighted for t in plan.tables)

    def _problem(self, features: KeyedJagged) -> str | None:
        """What is wrong with this rank's input, in the user's terms, or None."""
        names = [t.name for t in self.plan.tables]
        if sorted(features.keys) != sorted(names):
            return f"rank {self.rank}: sparse feature keys {list(features.keys)} do not match the tables {names}"
        ids = features.per_key()
        for table in self.plan.tables:
            values = ids[table.name][0]
            bad = (values < 0) | (values >= table.rows)
            if bool(bad.any()):
                position = int(torch.nonzero(bad)[0])
                return (f"rank {self.rank}: index {int(values[position])} is out of range for table {table.name} "
                        f"with {table.rows} rows, at position {position} of its ids")
            if table.weighted and features.weights is None:
                return f"rank {self.rank}: table {table.name} is weighted but the features carry no weights"
            if table.weighted and features.weights.requires_grad and torch.is_grad_enabled():
                return (f"rank {self.rank}: the weights of table {table.name} need a gradient, which the sharded "
                        f"tables cannot give (the weights travel to the shards' ranks outside autograd); detach "
                        f"them, or train them with the unsharded model")
        return None

    def _pieces_for(self, features: KeyedJagged):
        """Per destination rank, per shard it owns: (lengths, ids, weights or None) of this rank's samples."""
        per_key, pieces = features.per_key(), [[] for _ in range(self.world_size)]
        for shard in self.plan.shards:
            ids, lengths, weights = per_key[shard.table.name]
            if shard.kind is ShardKind.ROW_WISE:
                keep = (ids >= shard.row_start) & (ids < shard.row_end)
                lengths = torch.bincount(_bag_of_each_id(lengths)[keep], minlength=lengths.numel())
                ids = ids[keep] - shard.row_start
                weights = weights[keep] if weights is not None else None
            pieces[shard.rank].append((lengths, ids, weights if shard.table.weighted else None))
        return pieces

    def _send_ids(self, features: KeyedJagged):
        """All-to-all of ids; returns this rank's lookup inputs and the batch size of every rank."""
        pieces = self._pieces_for(features)
        ints = [torch.cat([p[0] for p in ps] + [p[1] for p in ps]) if ps else torch.zeros(0, dtype=torch.long)
                for ps in pieces]
        floats = [torch.cat([p[2] for p in ps if p[2] is not None] + [torch.zeros(0)]) for ps in pieces]
        counts = torch.tensor([[features.batch_size, i.numel(), f.numel()] for i, f in zip(ints, floats)])
        counts = exchange(counts.reshape(-1), [3] * self.world_size, [3] * self.world_size, Exchange.IDS,
                          self.group).view(self.world_size, 3).tolist()
        got_ints = exchange(torch.cat(ints), [i.numel() for i in ints], [c[1] for c in counts], Exchange.IDS,
                            self.group)
        got_floats = (exchange(torch.cat(floats), [f.numel() for f in floats], [c[2] for c in counts], Exchange.IDS,
                               self.group) if self.any_weighted else torch.zeros(0))
        per_shard = [([], [], []) for _ in self.shards]
        weighted = [s.table.weighted for s in self.shards]
        int_chunks = torch.split(got_ints, [c[1] for c in counts])
        float_chunks = torch.split(got_floats, [c[2] for c in counts]) if self.any_weighted else [None] * len(counts)
        for (batch, _, _), chunk, weights in zip(counts, int_chunks, float_chunks):
            # one row of lengths per shard (split() of an empty batch would give one piece, not one per shard)
            lengths = chunk[:batch * len(self.shards)].reshape(len(self.shards), batch).unbind(0)
            ids = torch.split(chunk[batch * len(self.shards):], [int(n.sum()) for n in lengths])
            per_weight = iter(torch.split(weights, [i.numel() for i, w in zip(ids, weighted) if w])
                              if any(weighted) else ())
            for k, is_weighted in enumerate(weighted):
                per_shard[k][0].append(lengths[k])
                per_shard[k][1].append(ids[k])
                if is_weighted:
                    per_shard[k][2].append(next(per_weight))
        inputs = []
        for shard, (lengths, ids, weights) in zip(self.shards, per_shard):
            lengths = torch.cat(lengths)
            inputs.append((torch.cat(ids), torch.cumsum(lengths, 0) - lengths,
                           torch.cat(weights) if shard.table.weighted else None))
        return inputs, [c[0] for c in counts]

    def _return_pooled(self, pooled: list[torch.Tensor], batches: list[int]) -> dict[Shard, torch.Tensor]:
        """All-to-all of pooled slices back to the ranks that own the samples; ``{shard: [batch, cols]}``."""
        starts = [sum(batches[:r]) for r in range(self.world_size)]
        send = [p[start:start + b].reshape(-1) for start, b in zip(starts, batches) for p in pooled]
        send = torch.cat(send) if send else torch.zeros(0, requires_grad=torch.is_grad_enabled())
        mine = batches[self.rank]
        width = [sum(s.cols for s in self.plan.shards_on(r)) for r in range(self.world_size)]
        got = exchange_pooled(send, [b * sum(s.cols for s in self.shards) for b in batches],
                              [mine * w for w in width], self.group)
        owned = [s for r in range(self.world_size) for s in self.plan.shards_on(r)]
        slices = torch.split(got, [mine * s.cols for s in owned])
        return {s: piece.view(mine, s.cols) for s, piece in zip(owned, slices)}

    def forward(self, features) -> list[torch.Tensor]:
        features = as_keyed_jagged(features)
        agree(self._problem(features), self.group)
        inputs, batches = self._send_ids(features)
        slices = self._return_pooled(self.local(inputs), batches)
        per_key = features.per_key()
        pooled = []
        for table in self.plan.tables:
            ids, lengths, _ = per_key[table.name]
            pooled.append(_join(self.plan.shards_of(table.name), slices, ids, lengths))
        return pooled


def _join(shards: list[Shard], slices: dict[Shard, torch.Tensor], ids: torch.Tensor,
          lengths: torch.Tensor) -> torch.Tensor:
    """One table's pooled embeddings for this rank's samples, from its shards' slices."""
    kind, pooling = shards[0].kind, shards[0].table.pooling
    if kind is ShardKind.TABLE_WISE:
        return slices[shards[0]]
    ordered = sorted(shards, key=lambda s: (s.row_start, s.col_start))
    if kind is ShardKind.COLUMN_WISE:
        return torch.cat([slices[s] for s in ordered], dim=1)
    parts = torch.stack([slices[s] for s in ordered])
    if pooling is Pooling.SUM:
        return parts.sum(dim=0)
    if pooling is Pooling.MEAN:
        return parts.sum(dim=0) / lengths.clamp(min=1).unsqueeze(1).to(parts.dtype)
    bag = _bag_of_each_id(lengths)
    present = torch.stack([torch.bincount(bag[(ids >= s.row_start) & (ids < s.row_end)], minlength=lengths.numel())
                           for s in ordered]) > 0
    best = torch.where(present.unsqueeze(2), parts, torch.tensor(float("-inf"), dtype=parts.dtype)).max(dim=0).values
    return torch.where(present.any(dim=0).unsqueeze(1), best, torch.zeros((), dtype=parts.dtype))
