"""How the embedding work of a Criteo-1TB-sized DLRM scales over 1, 2, 4, ... 64 DAE devices.

    python benchmarks/scale.py            # about two minutes on a 2-core machine; --help for the knobs

For every device count, ``torch_ember.distributed.plan_tables`` places the 26 tables (the public Criteo 1TB
cardinalities, capped at 40M rows as in MLPerf's DLRM, 128-dim fp32) on the devices; then the lookups of
a sample of ranks (the heaviest, the median and the lightest by the plan) run for real, forward and
backward, through the ember backend on an emulated DAE device, with one global batch of hashed Zipf-like
ids. Ranks not run take the planner's estimate scaled by the measured ranks' ratio of modeled to planned
time. The all-to-alls (ids, pooled embeddings, their gradients) are costed by ``dae_emulator.interconnect``
from the byte matrices that the plan and the batch's ids give. Modeled time per batch is the slowest rank's
DAE time plus the exchanges, with no overlap between them; the MLPs and their all-reduce are not modeled.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys

import torch

import dae_emulator
from dae_emulator.config import Topology
import torch_ember
from torch_ember.distributed import ShardingPlan, ShardKind, TableConfig, plan_tables
from torch_ember.distributed.comm import Exchange, ExchangeRecord
from torch_ember.distributed.plan import size
from torch_ember.distributed.report import communication
from torch_ember.distributed.sharded import LocalShards

# Criteo 1TB (Terabyte Click Logs), the 26 categorical features' cardinalities with MLPerf's 40M cap.
CRITEO_1TB_ROWS = (39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10, 2208,
                   11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36)
DIM = 128


def criteo_tables() -> list[TableConfig]:
    return [TableConfig(f"cat{k}", rows, DIM) for k, rows in enumerate(CRITEO_1TB_ROWS)]


def batch_ids(tables: list[TableConfig], batch: int, seed: int) -> list[torch.Tensor]:
    """One id per sample and table (Criteo's features are single-valued): Zipf-like popularity, spread over
    the rows by a multiplicative hash, as hashed categorical ids are."""
    generator = torch.Generator().manual_seed(seed)
    ids = []
    for t in tables:
        popularity = (torch.rand(batch, generator=generator, dtype=torch.float64) ** 3 * t.rows).long()
        multiplier = next(m for m in range(2654435761, 2654435761 + 1000, 2) if math.gcd(m, t.rows) == 1)
        ids.append((popularity.clamp_(max=t.rows - 1) * multiplier) % t.rows)
    return ids


def shard_ids(shard, ids: torch.Tensor) -> torch.Tensor:
    """Per sample, whether its id falls in the shard (row-wise), else all true."""
    if shard.kind is not ShardKind.ROW_WISE:
        return torch.ones_like(ids, dtype=torch.bool)
    return (ids >= shard.row_start) & (ids < shard.row_end)


def run_rank(plan: ShardingPlan, rank: int, ids: list[torch.Tensor], scale: int, device) -> float:
    """Modeled DAE seconds of ``rank``'s lookups for the global batch, forward and backward, on tables
    ``scale`` times shorter (ids divided by ``scale``)."""
    names = [t.name for t in plan.tables]
    shards = [dataclasses.replace(s, row_start=0, row_end=max(1, -(-s.rows // scale))) for s in plan.shards_on(rank)]
    if not shards:
        return 0.0
    module = LocalShards(shards)
    inputs = []
    for original, shard in zip(plan.shards_on(rank), shards):
        table_ids = ids[names.index(shard.table.name)]
        keep = shard_ids(original, table_ids)
        local = ((table_ids[keep] - original.row_start) // scale).clamp_(max=shard.rows - 1)
        lengths = keep.long()
        inputs.append((local, torch.cumsum(lengths, 0) - lengths, None))
    torch._dynamo.reset()
    torch_ember.reset()
    compiled = torch.compile(module, backend="ember", options={"rest": "eager", "device": device})
    outputs = compiled(inputs)
    sum(o.sum() for o in outputs).backward()
    return torch_ember.report().total().modeled_seconds


def exchanges(plan: ShardingPlan, ids: list[torch.Tensor], batch: int) -> list[list[ExchangeRecord]]:
    """Every rank's records of one step's three all-to-alls, as ``ShardedEmbeddingBags`` makes them."""
    n, local = plan.world_size, batch // plan.world_size
    names = [t.name for t in plan.tables]
    id_bytes, pooled = torch.zeros(n, n), torch.zeros(n, n)
    for shard in plan.shards:
        keep = shard_ids(shard, ids[names.index(shard.table.name)]).view(n, local)
        id_bytes[:, shard.rank] += (keep.sum(dim=1) + local) * 8       # ids and lengths, int64
        pooled[shard.rank, :] += local * shard.cols * shard.table.element_bytes
    return [[ExchangeRecord(Exchange.IDS, tuple(id_bytes[r].tolist())),
             ExchangeRecord(Exchange.POOLED, tuple(pooled[r].tolist())),
             ExchangeRecord(Exchange.GRADIENTS, tuple(pooled[:, r].tolist()))] for r in range(n)]


def sampled(plan: ShardingPlan, count: int) -> list[int]:
    by_load = sorted(range(plan.world_size), key=lambda r: -plan.estimated_seconds[r])
    picks = [by_load[0], by_load[len(by_load) // 2], by_load[-1]][:count]
    return sorted(set(picks))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16384, help="global batch (MLPerf DLRM trains on 55296-65536)")
    parser.add_argument("--max-devices", type=int, default=64)
    parser.add_argument("--sample-ranks", type=int, default=3, help="ranks whose lookups run, per device count")
    parser.add_argument("--memory-gib", type=float, default=1.0, help="table memory one functional run may use")
    parser.add_argument("--device", default="server")
    parser.add_argument("--link-gbs", type=float, help="override the preset's link bandwidth (GB/s each way)")
    parser.add_argument("--topology", choices=[t.value for t in Topology], help="override the preset's topology")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    device = dae_emulator.preset(args.device)
    overrides = {"link_bandwidth_gbs": args.link_gbs, "topology": args.topology}
    device = dataclasses.replace(device, **{k: v for k, v in overrides.items() if v is not None})
    tables = criteo_tables()
    ids = batch_ids(tables, args.batch, args.seed)
    total = sum(t.bytes for t in tables)
    scale = max(1, math.ceil(total / (args.memory_gib * 2**30)))
    print(f"DLRM embeddings, Criteo 1TB cardinalities (40M cap), {len(tables)} tables x {DIM} fp32: {size(total)}; "
          f"global batch {args.batch}, one id per sample and table")
    print(f"device: {device.name} preset, {size(device.memory_bytes)} memory, {device.dram_bandwidth_gbs:g} GB/s "
          f"DRAM, {device.link_bandwidth_gbs:g} GB/s links on a {device.topology.value}, "
          f"{device.link_latency_us:g} us per hop")
    print(f"scaled down: functional runs use tables {scale}x shorter (ids divided by {scale}) so that one rank's "
          f"shards fit {args.memory_gib:g} GiB of this machine's memory; planning, memory and communication use "
          f"the full tables. Shorter tables raise cache hit rates, so lookup times are optimistic.\n")
    head = (f"{'devices':>7}  {'ms/batch':>9}  {'lookup ms':>9}  {'imbal. ms':>9}  {'comm ms':>8}  {'speedup':>7}  "
            f"{'effic.':>6}  {'binding':<13}  {'ranks run':>9}  plan")
    print(head + "\n" + "-" * len(head))
    rows, devices = [], 1
    while devices <= args.max_devices:
        plan = plan_tables(tables, devices, device, batch_size=args.batch)
        runs = {r: run_rank(plan, r, ids, scale, device) for r in sampled(plan, args.sample_ranks)}
        ratio = sum(runs.values()) / sum(plan.estimated_seconds[r] for r in runs)
        times = [runs.get(r, plan.estimated_seconds[r] * ratio) for r in range(devices)]
        comm = communication(exchanges(plan, ids, args.batch), device)[0]
        mean, slowest = sum(times) / devices, max(times)
        parts = {"lookup": mean, "imbalance": slowest - mean, "communication": comm}
        step = slowest + comm
        rows.append((devices, step, parts, plan))
        base = rows[0][1]
        kinds = sorted({s.kind.value for s in plan.shards})
        print(f"{devices:>7}  {step * 1e3:>9.4f}  {mean * 1e3:>9.4f}  {(slowest - mean) * 1e3:>9.4f}  "
              f"{comm * 1e3:>8.4f}  {base / step:>7.2f}  {base / step / devices:>6.1%}  "
              f"{max(parts, key=parts.get):<13}  {len(runs):>9}  {len(plan.shards)} shards, {'/'.join(kinds)}")
        devices *= 2
    print()
    print(_why_scaling_stops(rows, device))
    print(f"scaling efficiency at {rows[-1][0]} devices: {rows[0][1] / rows[-1][1] / rows[-1][0]:.3f}")
    return 0


def _why_scaling_stops(rows, device) -> str:
    """The first doubling that gains less than a quarter, and the part of the step that keeps it from more."""
    for (n0, t0, _, _), (n1, t1, parts, plan) in zip(rows, rows[1:]):
        if t0 / t1 < 1.25:
            binding = max(parts, key=parts.get)
            reason = {
                "communication": f"the pooled embeddings and their gradients cross {device.link_bandwidth_gbs:g} "
                                 f"GB/s links, {device.dram_bandwidth_gbs / device.link_bandwidth_gbs:.0f}x slower "
                                 f"than the DRAM the lookups read, and with one id per sample and table they are "
                                 f"about as many bytes as the lookups read (try --link-gbs)",
                "imbalance": f"{len(plan.shards)} shards cannot be spread evenly over {n1} devices, so the "
                             f"slowest device sets the pace",
                "lookup": "the lookups themselves no longer shrink (too little work per device)",
            }[binding]
            return (f"scaling stops at {n1} devices ({t0 / t1:.2f}x from {n0}): bound by {binding} "
                    f"({parts[binding] * 1e3:.4f} ms of {t1 * 1e3:.4f} ms); {reason}.")
    return f"scaling continues to {rows[-1][0]} devices: every doubling gains at least 1.25x."


if __name__ == "__main__":
    sys.exit(main())
