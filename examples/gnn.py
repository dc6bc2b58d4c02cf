"""Train GCN and GraphSAGE on a synthetic power-law graph, on the emulated DAE device and eagerly, from one seed.

    python examples/gnn.py                 # both models, 10 SGD steps each way; prints losses and the report

The layers are written the way PyTorch Geometric writes them: messages gathered with ``x[src]`` (or
``index_select``), scaled by an edge weight (GCN's symmetric degree normalization), and summed into the
destination rows with ``index_add`` / ``scatter_add`` (GraphSAGE divides by the in-degree for the mean).
"""
from __future__ import annotations

import argparse
import copy
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm


def power_law_graph(nodes: int, edges: int, generator: torch.Generator, exponent: float = 2.5):
    """Edges whose destinations follow a power law (a few hubs with many in-edges), plus self-loops."""
    src = torch.randint(0, nodes, (edges,), generator=generator)
    dst = (torch.rand(edges, generator=generator) ** exponent * nodes).long().clamp_(max=nodes - 1)
    loops = torch.arange(nodes)
    return torch.cat([src, loops]), torch.cat([dst, loops])


class GCNLayer(nn.Module):
    def __init__(self, fan_in: int, fan_out: int):
        super().__init__()
        self.lin = nn.Linear(fan_in, fan_out)

    def forward(self, x, src, dst):
        deg = x.new_zeros(x.shape[0]).scatter_add(0, dst, x.new_ones(dst.shape[0]))
        inv_sqrt = deg.pow(-0.5)
        norm = inv_sqrt[src] * inv_sqrt[dst]
        h = self.lin(x)
        return torch.zeros_like(h).index_add(0, dst, h[src] * norm.view(-1, 1))


class SAGELayer(nn.Module):
    def __init__(self, fan_in: int, fan_out: int):
        super().__init__()
        self.neighbours = nn.Linear(fan_in, fan_out)
        self.root = nn.Linear(fan_in, fan_out, bias=False)

    def forward(self, x, src, dst):
        messages = x.index_select(0, src)
        summed = torch.zeros_like(x).scatter_add(0, dst.view(-1, 1).expand_as(messages), messages)
        count = x.new_zeros(x.shape[0]).index_add(0, dst, x.new_ones(dst.shape[0])).clamp(min=1)
        return self.neighbours(summed / count.view(-1, 1)) + self.root(x)


class GNN(nn.Module):
    def __init__(self, layer, features: int, hidden: int, classes: int):
        super().__init__()
        self.first, self.second = layer(features, hidden), layer(hidden, classes)

    def forward(self, x, src, dst):
        return self.second(F.relu(self.first(x, src, dst)), src, dst)


def train(model, data, steps: int, lr: float = 0.05, desc: str = "train") -> list[float]:
    x, src, dst, labels = data
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(steps), desc=desc, unit="step", file=sys.stderr)
    for _ in bar:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, src, dst), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rest", choices=["inductor", "eager"], default="inductor")
    parser.add_argument("--timing", choices=["sampled", "full"], default="sampled",
                        help="device timing: a sample of launches in detail (default), or every launch")
    parser.add_argument("--models", nargs="+", choices=["gcn", "sage"], default=["gcn", "sage"])
    args = parser.parse_args(argv)

    generator = torch.Generator().manual_seed(args.seed)
    src, dst = power_law_graph(args.nodes, args.edges, generator)
    x = torch.randn(args.nodes, args.features, generator=generator)
    labels = torch.randint(0, 8, (args.nodes,), generator=generator)
    print(f"graph: {args.nodes} nodes, {src.numel()} edges (self-loops included), max in-degree "
          f"{int(torch.bincount(dst).max())}")
    import torch_ember
    worst = 0.0
    for name in args.models:
        torch.manual_seed(args.seed)
        eager = GNN({"gcn": GCNLayer, "sage": SAGELayer}[name], args.features, 64, 8)
        ember = copy.deepcopy(eager)
        compiled = torch.compile(ember, backend="ember", options={"rest": args.rest, "timing": args.timing})
        eager_losses = train(eager, (x, src, dst, labels), args.steps, desc=f"{name} eager")
        ember_losses = train(compiled, (x, src, dst, labels), args.steps, desc=f"{name} ember (its first step compiles)")
        print()
        worst = max(worst, torch_ember.parity.loss_table(eager_losses, ember_losses, title=f"{name}: "))
    print(f"\nworst relative loss difference: {worst:.2e} (tolerance 1e-4)")
    print()
    print(torch_ember.report())
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
