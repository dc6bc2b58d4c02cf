"""Train a small DLRM on synthetic click data, on the emulated DAE device and eagerly, from one seed.

    python examples/dlrm.py              # 20 SGD steps each way; prints losses, their agreement and the report

The model follows DLRM (Naumov et al., 2019): a bottom MLP for dense features, embedding-bag tables for
sparse features (here 8 tables of different sizes, modes and pooling factors, one with per-sample weights),
pairwise dot-product feature interaction, and a top MLP. Indices follow a Zipf-like law, as real
categorical features do.
"""
from __future__ import annotations

import argparse
import copy
import sys

import torch
import torch.nn as nn
from tqdm import tqdm

# rows, mode, mean pooling factor, weighted
TABLES = [
    (1000, "sum", 8, False), (5000, "sum", 20, True), (200, "mean", 4, False), (10000, "sum", 12, False),
    (50, "max", 3, False), (3000, "mean", 6, False), (800, "sum", 1, False), (20000, "max", 10, False),
]
DENSE_FEATURES = 13


class DLRM(nn.Module):
    def __init__(self, dim: int = 16, tables=TABLES):
        super().__init__()
        self.bottom = nn.Sequential(nn.Linear(DENSE_FEATURES, 64), nn.ReLU(), nn.Linear(64, dim), nn.ReLU())
        self.tables = nn.ModuleList(nn.EmbeddingBag(rows, dim, mode=mode) for rows, mode, _, _ in tables)
        self.weighted = [weighted for *_, weighted in tables]
        features = len(tables) + 1
        self.top = nn.Sequential(nn.Linear(dim + features * (features - 1) // 2, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, dense, sparse):
        x = self.bottom(dense)
        pooled = [table(indices, offsets, per_sample_weights=weights if self.weighted[k] else None)
                  for k, (table, (indices, offsets, weights)) in enumerate(zip(self.tables, sparse))]
        features = torch.stack([x] + pooled, dim=1)
        dots = torch.bmm(features, features.transpose(1, 2))
        i, j = torch.triu_indices(features.shape[1], features.shape[1], offset=1)
        return self.top(torch.cat([x, dots[:, i, j]], dim=1)).squeeze(1)


def synthetic_batch(batch: int, generator: torch.Generator, tables=TABLES):
    dense = torch.randn(batch, DENSE_FEATURES, generator=generator)
    sparse = []
    for rows, _, pooling, _ in tables:
        lengths = torch.randint(0, 2 * pooling + 1, (batch,), generator=generator)
        n = int(lengths.sum())
        # Zipf-like popularity: a power of a uniform variable concentrates mass on low row ids.
        indices = (torch.rand(n, generator=generator) ** 3 * rows).long().clamp_(max=rows - 1)
        offsets = torch.cumsum(lengths, 0) - lengths
        sparse.append((indices, offsets, torch.rand(n, generator=generator)))
    labels = (torch.rand(batch, generator=generator) < 0.25).float()
    return dense, sparse, labels


def train(model: nn.Module, steps: int, batch: int, seed: int, lr: float = 0.1, desc: str = "train") -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    bar = tqdm(range(steps), desc=desc, unit="step", file=sys.stderr)
    for _ in bar:
        dense, sparse, labels = synthetic_batch(batch, generator)
        optimizer.zero_grad()
        loss = loss_fn(model(dense, sparse), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rest", choices=["inductor", "eager"], default="inductor")
    parser.add_argument("--timing", choices=["sampled", "full"], default="sampled",
                        help="device timing: a sample of launches in detail (default), or every launch")
    parser.add_argument("--device", default="server", help="DAE device preset")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    eager_model = DLRM()
    ember_model = copy.deepcopy(eager_model)
    compiled = torch.compile(ember_model, backend="ember", options={"rest": args.rest, "device": args.device,
                                                                      "timing": args.timing})

    eager_losses = train(eager_model, args.steps, args.batch, args.seed, desc="eager")
    ember_losses = train(compiled, args.steps, args.batch, args.seed, desc="ember (its first step compiles)")

    import torch_ember
    worst = torch_ember.parity.loss_table(eager_losses, ember_losses)
    print(f"worst relative loss difference: {worst:.2e} (tolerance 1e-4)")
    print()
    print(torch_ember.report())
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
