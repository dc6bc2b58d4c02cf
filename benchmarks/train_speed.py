"""Training step time under ember with sampled and with full device timing, against eager, in one process.

    python benchmarks/train_speed.py                  # DLRM, 50 steps per mode: about 6 minutes on 2 cores
    python benchmarks/train_speed.py --model gnn      # or moe; --steps, --help for the rest

Three copies of one model (one seed) train on the same batches: eagerly, under ``backend="ember"`` with
``timing="sampled"`` and with ``timing="full"``; each step runs the three in turn, so that the machine's
drift falls on all of them alike. Each compiled model is compiled and run once on a batch of its own before
the timed steps. Printed: per mode the median and mean step time; the modeled device totals of the two
ember modes (each in its own session), the sampled one with its interval; the error of the sampled total
against the full one; and last two lines, the sampled/eager step-time ratio (eager's median step time over
sampled's) and the sampled modeled time's error against full with whether its interval covers the full total.

Models: ``dlrm`` is the DLRM of ``examples/dlrm.py`` with the shape of ``benchmarks/emulator_speed.py`` (26
tables of 100k x 64, sum bags, batch 2048, pooling 20, uniform indices); ``gnn`` the GCN of
``examples/gnn.py`` on its power-law graph (10k nodes, 100k edges, 32 features); ``moe`` the transformer
block of ``examples/moe.py`` (batch 8, length 32). The rest of the graph runs eagerly (``rest="eager"``),
so that the ratio is about the regions, not Inductor's code.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_ember

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODES = ("eager", "sampled", "full")


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Workload:
    model: nn.Module
    batch: Callable[[torch.Generator], tuple]      # a step's inputs (the model's arguments, then the target)
    loss: Callable[..., torch.Tensor]               # (model output, target) -> loss
    lr: float


def dlrm(args) -> Workload:
    example = _example("dlrm")
    tables = [(args.rows, "sum", args.pooling, False)] * args.tables
    model = example.DLRM(dim=args.dim, tables=tables)
    for table in model.tables:      # as DLRM's reference code initializes them (N(0, 1) rows blow the dots up)
        nn.init.uniform_(table.weight, -args.rows ** -0.5, args.rows ** -0.5)
    offsets = torch.arange(0, args.batch * args.pooling, args.pooling)

    def batch(generator):
        dense = torch.randn(args.batch, example.DENSE_FEATURES, generator=generator)
        sparse = [(torch.randint(0, args.rows, (args.batch * args.pooling,), generator=generator), offsets, None)
                  for _ in range(args.tables)]
        return dense, sparse, (torch.rand(args.batch, generator=generator) < 0.25).float()
    return Workload(model, batch, nn.BCEWithLogitsLoss(), 0.01)


def gnn(args) -> Workload:
    example = _example("gnn")
    generator = torch.Generator().manual_seed(args.seed)
    src, dst = example.power_law_graph(args.nodes, args.edges, generator)
    x = torch.randn(args.nodes, args.features, generator=generator)
    labels = torch.randint(0, 8, (args.nodes,), generator=generator)
    model = example.GNN(example.GCNLayer, args.features, 32, 8)
    return Workload(model, lambda g: (x, src, dst, labels), F.cross_entropy, 0.05)


def moe(args) -> Workload:
    example = _example("moe")
    model = example.MoEBlock()

    def batch(generator):
        tokens = torch.randint(0, 500, (args.batch_moe, args.length + 1), generator=generator)
        return tokens[:, :-1], tokens[:, 1:].reshape(-1)
    return Workload(model, batch, lambda logits, target: F.cross_entropy(logits.reshape(-1, 500), target), 0.05)


WORKLOADS = {"dlrm": dlrm, "gnn": gnn, "moe": moe}


class Trainer:
    """One copy of the model, its optimizer, and where its device time is recorded."""

    def __init__(self, workload: Workload, model: nn.Module, timing: str | None) -> None:
        self.workload, self.model = workload, model
        self.run = model if timing is None else torch.compile(
            model, backend="ember", options={"rest": "eager", "timing": timing})
        self.optimizer = torch.optim.SGD(model.parameters(), lr=workload.lr)
        self.session = torch_ember.Session()
        self.seconds: list[float] = []

    def step(self, inputs: tuple, timed: bool = True) -> float:
        *arguments, target = inputs
        start = time.perf_counter()
        with self.session:
            self.optimizer.zero_grad()
            loss = self.workload.loss(self.run(*arguments), target)
            loss.backward()
            self.optimizer.step()
            value = loss.item()
        if timed:
            self.seconds.append(time.perf_counter() - start)
        return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(WORKLOADS), default="dlrm")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tables", type=int, default=26)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--pooling", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--batch-moe", type=int, default=8)
    parser.add_argument("--length", type=int, default=32)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    workload = WORKLOADS[args.model](args)
    trainers = {mode: Trainer(workload, copy.deepcopy(workload.model), None if mode == "eager" else mode)
                for mode in MODES}
    warm = torch.Generator().manual_seed(args.seed + 1)
    warm_up = workload.batch(warm)
    for trainer in trainers.values():      # compile (and numba's first calls) outside the timed steps
        trainer.step(warm_up, timed=False)
        trainer.session.reset()
    generator = torch.Generator().manual_seed(args.seed)
    losses = {mode: [] for mode in MODES}
    for step in range(args.steps):
        inputs = workload.batch(generator)
        for mode, trainer in trainers.items():
            losses[mode].append(trainer.step(inputs))
        print(f"step {step + 1}/{args.steps}: " + ", ".join(f"{m} {t.seconds[-1]:.3f} s" for m, t in trainers.items()),
              file=sys.stderr, flush=True)

    print(f"{args.model}: {args.steps} steps per mode, alternating eager / sampled / full in one process")
    for mode, trainer in trainers.items():
        print(f"  {mode:<8} median step {statistics.median(trainer.seconds) * 1e3:9.1f} ms   "
              f"mean {statistics.fmean(trainer.seconds) * 1e3:9.1f} ms   "
              f"last loss {losses[mode][-1]:.5f}")
    sampled = trainers["sampled"].session.stats.report().total()
    full = trainers["full"].session.stats.report().total()
    print(f"  modeled device time, full:    {full.modeled_seconds * 1e3:.4f} ms over {full.launches} launches")
    print(f"  modeled device time, sampled: {sampled.modeled_seconds * 1e3:.4f} ms "
          f"[{sampled.modeled_seconds_low * 1e3:.4f}, {sampled.modeled_seconds_high * 1e3:.4f}] over "
          f"{sampled.launches} launches, {sampled.detailed_launches} timed in detail")
    error = abs(sampled.modeled_seconds - full.modeled_seconds) / full.modeled_seconds
    covers = sampled.modeled_seconds_low <= full.modeled_seconds <= sampled.modeled_seconds_high
    ratio = statistics.median(trainers["eager"].seconds) / statistics.median(trainers["sampled"].seconds)
    print(f"sampled/eager step-time ratio: {ratio:.2f}")
    print(f"sampled modeled time error vs full: {error * 100:.2f}% (interval covers full: {'yes' if covers else 'no'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
