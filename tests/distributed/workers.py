"""Spawned ranks for the distributed tests: a small gloo group on this machine, always joined with a deadline."""
from __future__ import annotations

import socket
import time
import traceback

import torch
import torch.multiprocessing as mp
import torch.nn as nn

import dae_emulator
import torch_ember

from torch_ember.distributed import (KeyedJagged, Pooling, ShardedEmbeddingBags, ShardKind, TableConfig,
                                     plan_tables, process_group, sharded_report)

TABLES = (
    TableConfig("sum", 200, 8, Pooling.SUM, pooling_factor=3),
    TableConfig("weighted", 40, 8, Pooling.SUM, weighted=True, pooling_factor=2),
    TableConfig("mean", 50, 4, Pooling.MEAN, pooling_factor=3),
    TableConfig("max", 30, 6, Pooling.MAX, pooling_factor=2),
)
# (forced kind or None for the planner's choice, memory per device): the last one is too small for table "sum"
PLANS = ((ShardKind.TABLE_WISE, None), (ShardKind.ROW_WISE, None), (ShardKind.COLUMN_WISE, None), (None, None),
         (None, 5000))
BATCH = 8   # global; split evenly over the ranks
SERVER = dae_emulator.preset("server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(fn, world_size: int, *args, deadline_s: float = 90.0) -> list:
    """Run ``fn(rank, world_size, port, *args)`` on ``world_size`` spawned ranks; return each rank's result.

    A rank's exception comes back as its result (a string starting ``error:``); ranks still running at the
    deadline are killed and the call raises, so a hang fails the test instead of stalling it.
    """
    manager = mp.get_context("spawn").Manager()
    results = manager.dict()
    context = mp.spawn(_rank_main, args=(world_size, free_port(), results, fn, args), nprocs=world_size,
                       join=False)
    end = time.monotonic() + deadline_s
    while not context.join(timeout=max(end - time.monotonic(), 0.1)):
        if time.monotonic() > end:
            for p in context.processes:
                if p.is_alive():
                    p.kill()
            unfinished = sorted(set(range(world_size)) - set(results.keys()))
            raise TimeoutError(f"ranks {unfinished} still running after {deadline_s} s")
    return [results[rank] for rank in range(world_size)]


def _rank_main(rank, world_size, port, results, fn, args):
    try:
        with process_group(backend="gloo", rank=rank, world_size=world_size, timeout_s=30,
                           init_method=f"tcp://127.0.0.1:{port}"):
            results[rank] = fn(rank, world_size, *args)
    except Exception as error:  # the test reads what each rank raised
        results[rank] = f"error: {type(error).__name__}: {error}\n{traceback.format_exc()}"


def full_tables(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {t.name: torch.randn(t.rows, t.dim, generator=generator) for t in TABLES}


def global_features(seed: int = 1) -> KeyedJagged:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.cat([torch.randint(0, 2 * int(t.pooling_factor) + 1, (BATCH,), generator=generator)
                         for t in TABLES])
    lengths[0] = 0   # an empty bag
    per_table = lengths.view(len(TABLES), BATCH).sum(dim=1).tolist()
    ids = torch.cat([torch.randint(0, t.rows, (n,), generator=generator) for t, n in zip(TABLES, per_table)])
    return KeyedJagged(tuple(t.name for t in TABLES), ids, lengths, torch.rand(ids.numel(), generator=generator))


def unsharded(tables: dict[str, torch.Tensor], features: KeyedJagged, upstream: list[torch.Tensor]):
    """Eager pooled embeddings of the whole batch and the gradients of ``sum(pooled * upstream)``."""
    bags = {t.name: nn.EmbeddingBag.from_pretrained(tables[t.name].clone(), freeze=False, mode=t.pooling.value)
            for t in TABLES}
    pooled = []
    for t in TABLES:
        ids, lengths, weights = features.per_key()[t.name]
        pooled.append(bags[t.name](ids, torch.cumsum(lengths, 0) - lengths,
                                   per_sample_weights=weights if t.weighted else None))
    sum((p * u).sum() for p, u in zip(pooled, upstream)).backward()
    return [p.detach() for p in pooled], {name: bag.weight.grad for name, bag in bags.items()}


def unsharded_reference(rank: int, world_size: int):
    """The full tables and batch, upstream gradients, the unsharded pooled outputs and table gradients, and
    this rank's slice of the batch."""
    tables, features = full_tables(), global_features()
    generator = torch.Generator().manual_seed(2)
    upstream = [torch.randn(BATCH, t.dim, generator=generator) for t in TABLES]
    want_pooled, want_grads = unsharded(tables, features, upstream)
    local = BATCH // world_size
    return tables, features, upstream, want_pooled, want_grads, slice(rank * local, (rank + 1) * local)


def compare_every_plan(rank: int, world_size: int) -> list[str]:
    """Per plan, the largest forward and gradient differences between sharded and unsharded, as text; last,
    the per-rank report of the last plan."""
    tables, features, upstream, want_pooled, want_grads, mine = unsharded_reference(rank, world_size)
    lines = []
    for kind, capacity in PLANS:
        plan = plan_tables(TABLES, world_size, SERVER, batch_size=BATCH, kinds=kind, capacity_bytes=capacity)
        module = ShardedEmbeddingBags(plan, weights=tables)
        torch_ember.reset()
        pooled = module(features.slice_batch(mine.start, mine.stop))
        sum((p * u[mine]).sum() for p, u in zip(pooled, upstream)).backward()
        forward = max(float((p.detach() - w[mine]).abs().max()) for p, w in zip(pooled, want_pooled))
        backward = max(float((bag.weight.grad - want_grads[s.table.name][s.row_start:s.row_end, s.col_start:s.col_end])
                             .abs().max()) for s, bag in zip(module.shards, module.local.bags))
        kinds = sorted({plan.kind_of(t.name).value for t in TABLES})
        launches = torch_ember.report().total().launches
        lines.append(f"{kind.value if kind else 'planned'} {kinds} forward {forward:.2e} backward {backward:.2e} "
                     f"DAE launches {launches}")
    return lines + [str(sharded_report(plan, SERVER))]


def bad_ids_on_rank_1(rank: int, world_size: int) -> str:
    tables, features = full_tables(), global_features()
    plan = plan_tables(TABLES, world_size, SERVER, batch_size=BATCH)
    module = ShardedEmbeddingBags(plan, weights=tables)
    local = features.slice_batch(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
    if rank == 1:
        values = local.values.clone()
        values[-1] = 999
        local = KeyedJagged(local.keys, values, local.lengths, local.weights)
    module(local)
    return "no error"


def torchrec_kjt():
    """TorchRec's ``KeyedJaggedTensor`` class and ``""``, or ``None`` and why it cannot be imported here."""
    try:
        from torchrec.sparse.jagged_tensor import KeyedJaggedTensor
    except Exception as error:  # not installed, or its fbgemm_gpu was built for another torch (an OSError)
        return None, f"torchrec is not importable beside torch {torch.__version__}: {type(error).__name__}: {error}"
    return KeyedJaggedTensor, ""


def as_torchrec(features: KeyedJagged, keys: tuple[str, ...]):
    """The same features as a real TorchRec ``KeyedJaggedTensor`` with its keys in ``keys`` order and int32
    lengths, as TorchRec's data loaders make them."""
    kjt_class, reason = torchrec_kjt()
    if kjt_class is None:
        raise RuntimeError(reason)
    parts = features.per_key()
    return kjt_class(keys=list(keys), values=torch.cat([parts[k][0] for k in keys]),
                     lengths=torch.cat([parts[k][1] for k in keys]).int(),
                     weights=torch.cat([parts[k][2] for k in keys]))


def torchrec_input_equals_unsharded(rank: int, world_size: int) -> str:
    """A real ``KeyedJaggedTensor`` (keys in reverse table order) through the planned sharding: the largest
    forward and gradient differences against unsharded, and against the same batch given as a ``KeyedJagged``."""
    tables, features, upstream, want_pooled, want_grads, mine = unsharded_reference(rank, world_size)
    ours = features.slice_batch(mine.start, mine.stop)
    kjt = as_torchrec(ours, tuple(reversed(ours.keys)))
    plan = plan_tables(TABLES, world_size, SERVER, batch_size=BATCH)
    module = ShardedEmbeddingBags(plan, weights=tables)
    with torch.no_grad():
        same = max(float((a - b).abs().max()) for a, b in zip(module(kjt), module(ours)))
    pooled = module(kjt)
    sum((p * u[mine]).sum() for p, u in zip(pooled, upstream)).backward()
    forward = max(float((p.detach() - w[mine]).abs().max()) for p, w in zip(pooled, want_pooled))
    backward = max(float((bag.weight.grad - want_grads[s.table.name][s.row_start:s.row_end, s.col_start:s.col_end])
                         .abs().max()) for s, bag in zip(module.shards, module.local.bags))
    return f"{type(kjt).__module__}.{type(kjt).__name__} forward {forward:.2e} backward {backward:.2e} same {same:.2e}"


def empty_batch_on_rank_0(rank: int, world_size: int) -> str:
    """Rank 0's slice of the batch is empty; each rank holds two shards (table-wise over four tables)."""
    tables, features, upstream, want_pooled, want_grads, _ = unsharded_reference(rank, world_size)
    mine = slice(0, 0) if rank == 0 else slice(0, BATCH)
    plan = plan_tables(TABLES, world_size, SERVER, batch_size=BATCH, kinds=ShardKind.TABLE_WISE)
    module = ShardedEmbeddingBags(plan, weights=tables)
    pooled = module(features.slice_batch(mine.start, mine.stop))
    sum((p * u[mine]).sum() for p, u in zip(pooled, upstream)).backward()
    shapes = [tuple(p.shape) for p in pooled]
    forward = max(float((p.detach() - w[mine]).abs().max()) if p.numel() else 0.0
                  for p, w in zip(pooled, want_pooled))
    return f"shapes {shapes} forward {forward:.2e}"


def weights_that_need_a_gradient(rank: int, world_size: int) -> str:
    tables, features = full_tables(), global_features()
    plan = plan_tables(TABLES, world_size, SERVER, batch_size=BATCH, kinds=ShardKind.ROW_WISE)
    module = ShardedEmbeddingBags(plan, weights=tables)
    local = features.slice_batch(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
    local = KeyedJagged(local.keys, local.values, local.lengths, local.weights.clone().requires_grad_(True))
    module(local)
    return "no error"
