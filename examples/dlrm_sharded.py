"""Train the DLRM of examples/dlrm.py with its tables sharded over the ranks of a process group, each rank's
shards on its own emulated DAE device, and check the losses against one process training eagerly.

    torchrun --nproc-per-node 2 examples/dlrm_sharded.py     # 10 SGD steps; prints the plan, losses, report

As in production recommenders, the model is split two ways: the embedding tables are sharded (model
parallel, placed by ``torch_ember.distributed.plan_tables``) and the MLPs are replicated (data parallel,
gradients summed with one all-reduce). Every rank draws the same global batch from one seed and trains on
its slice of the samples; pooled embeddings and their gradients travel with all-to-alls.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm import tqdm

import dae_emulator
import torch_ember
from torch_ember.distributed import (KeyedJagged, ShardedEmbeddingBags, TableConfig, all_reduce_gradients,
                                     plan_tables, process_group, sharded_report)


def _load_dlrm():
    spec = importlib.util.spec_from_file_location("dlrm_example", Path(__file__).with_name("dlrm.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dlrm = _load_dlrm()


def table_configs(model) -> list[TableConfig]:
    return [TableConfig(f"table{k}", rows, bag.embedding_dim, mode, weighted, pooling)
            for k, ((rows, mode, pooling, weighted), bag) in enumerate(zip(dlrm.TABLES, model.tables))]


class ShardedDLRM(nn.Module):
    """DLRM's MLPs, replicated, around its tables, sharded; the same arithmetic as ``DLRM.forward``."""

    def __init__(self, model, plan, device) -> None:
        super().__init__()
        self.bottom, self.top = model.bottom, model.top
        self.embeddings = ShardedEmbeddingBags(
            plan, device=device, weights={t.name: bag.weight.detach() for t, bag in zip(plan.tables, model.tables)})

    def forward(self, dense, features):
        x = self.bottom(dense)
        features = torch.stack([x] + self.embeddings(features), dim=1)
        dots = torch.bmm(features, features.transpose(1, 2))
        i, j = torch.triu_indices(features.shape[1], features.shape[1], offset=1)
        return self.top(torch.cat([x, dots[:, i, j]], dim=1)).squeeze(1)

    def replicated(self):
        return [*self.bottom.parameters(), *self.top.parameters()]


def train_sharded(model: ShardedDLRM, names, steps: int, batch: int, seed: int, lr: float = 0.1) -> list[float]:
    """The loop of ``dlrm.train`` on this rank's samples; returns the global batch's mean loss per step."""
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = slice(rank * batch // world, (rank + 1) * batch // world)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    losses = []
    bar = tqdm(range(steps), desc=f"rank {rank} of {world}", unit="step", file=sys.stderr, disable=rank != 0)
    for _ in bar:
        dense, sparse, labels = dlrm.synthetic_batch(batch, generator)
        features = KeyedJagged.from_bags(names, sparse).slice_batch(mine.start, mine.stop)
        optimizer.zero_grad()
        loss = loss_fn(model(dense[mine], features), labels[mine]) / batch   # this rank's share of the mean
        loss.backward()
        all_reduce_gradients(model.replicated())
        optimizer.step()
        total = loss.detach().clone()
        dist.all_reduce(total)
        losses.append(total.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256, help="global batch, split evenly over the ranks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="server", help="DAE device preset of every rank")
    args = parser.parse_args(argv)

    with process_group():
        rank, world = dist.get_rank(), dist.get_world_size()
        if args.batch % world:
            raise SystemExit(f"--batch {args.batch} must be a multiple of the {world} ranks")
        device = dae_emulator.preset(args.device)
        torch.manual_seed(args.seed)
        model = dlrm.DLRM()
        eager_model = copy.deepcopy(model)
        plan = plan_tables(table_configs(model), world, device, batch_size=args.batch)
        sharded = ShardedDLRM(model, plan, device)
        torch_ember.reset()
        losses = train_sharded(sharded, [t.name for t in plan.tables], args.steps, args.batch, args.seed)
        report = sharded_report(plan, device)
        worst = torch.zeros(1)
        if rank == 0:
            eager_losses = dlrm.train(eager_model, args.steps, args.batch, args.seed)
            print(plan, end="\n\n")
            print(f"{'step':>4}  {'eager loss':>12}  {f'{world}-rank loss':>12}  {'rel. diff':>9}")
            for step, (a, b) in enumerate(zip(eager_losses, losses)):
                rel = abs(a - b) / max(abs(a), 1e-12)
                worst = torch.maximum(worst, torch.tensor([rel]))
                print(f"{step:>4}  {a:>12.6f}  {b:>12.6f}  {rel:>9.2e}")
            print(f"worst relative loss difference: {float(worst):.2e} (tolerance 1e-4)", end="\n\n")
            print(f"per-rank report ({world} DAE devices, {device.name} preset):")
            print(report)
        dist.broadcast(worst, src=0)
    return 0 if float(worst) <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
