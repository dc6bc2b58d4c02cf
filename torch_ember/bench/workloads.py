"""The bench's workloads: the models of ``examples/`` (imported by path, so the bench runs exactly what
a user copies), each as a model factory and one training step."""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import torch
import torch.nn as nn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Workload:
    """One model of a workload; ``step(model, i)`` trains it one step on batch ``i`` and returns the loss."""

    name: str
    build: Callable[[], nn.Module]
    step: Callable[[nn.Module, int], float]


@functools.cache
def example(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(f"the bench runs the models of {EXAMPLES}, which this install lacks "
                                f"(install from a checkout with pip install -e .)")
    spec = importlib.util.spec_from_file_location(f"torch_ember_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dlrm(small: bool) -> list[Workload]:
    ex = example("dlrm")
    batch = 32 if small else 256
    return [Workload("dlrm", ex.DLRM, lambda model, i: ex.train(model, 1, batch, seed=i)[0])]


def gnn(small: bool) -> list[Workload]:
    ex = example("gnn")
    nodes, edges, features = (400, 3000, 16) if small else (10_000, 100_000, 32)
    generator = torch.Generator().manual_seed(0)
    src, dst = ex.power_law_graph(nodes, edges, generator)
    data = (torch.randn(nodes, features, generator=generator), src, dst,
            torch.randint(0, 8, (nodes,), generator=generator))
    return [Workload(name, functools.partial(ex.GNN, layer, features, 64, 8),
                     lambda model, i: ex.train(model, data, 1)[0])
            for name, layer in (("gcn", ex.GCNLayer), ("sage", ex.SAGELayer))]


def moe(small: bool) -> list[Workload]:
    ex = example("moe")
    batch, length = (2, 16) if small else (8, 32)
    return [Workload("moe", ex.MoEBlock, lambda model, i: ex.train(model, 1, batch, length, seed=i)[0])]


WORKLOADS: dict[str, Callable[[bool], list[Workload]]] = {"dlrm": dlrm, "gnn": gnn, "moe": moe}
