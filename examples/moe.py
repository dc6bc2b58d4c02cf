"""Train a small transformer block with a top-2 mixture-of-experts layer, on the emulated DAE device and
eagerly, from one seed.

    python examples/moe.py        # 10 SGD steps each way; prints losses, their agreement and the report

The MoE layer routes every token to its two best experts with a fixed capacity per expert, the way
GShard- and Switch-style layers do: *dispatch* gathers each token's row into its slot of the experts'
buffer (a row gather fused with a row scatter), the experts' MLPs run batched on the host (bmm), and the
*combine* gathers each slot's output back, weighted by the router's probability, and accumulates it into
the token's row. Tokens over capacity are dropped (their slot is a spare row that no expert computes).
"""
from __future__ import annotations

import argparse
import copy
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm


class Top2MoE(nn.Module):
    def __init__(self, dim: int, hidden: int, experts: int, capacity_factor: float = 1.25):
        super().__init__()
        self.experts, self.capacity_factor = experts, capacity_factor
        self.router = nn.Linear(dim, experts, bias=False)
        self.w_in = nn.Parameter(torch.randn(experts, dim, hidden) / math.sqrt(dim))
        self.w_out = nn.Parameter(torch.randn(experts, hidden, dim) / math.sqrt(hidden))

    def forward(self, x):
        tokens, dim = x.shape
        capacity = math.ceil(self.capacity_factor * 2 * tokens / self.experts)
        probs = F.softmax(self.router(x), dim=-1)
        weight, expert = probs.topk(2, dim=-1)                                   # [tokens, 2]
        weight = weight / weight.sum(dim=-1, keepdim=True)
        choice_expert = expert.reshape(-1)                                       # token-major choices
        one_hot = F.one_hot(choice_expert, self.experts)
        position = (torch.cumsum(one_hot, 0) - 1).gather(1, choice_expert.view(-1, 1)).squeeze(1)
        spare = self.experts * capacity
        slot = torch.where(position < capacity, choice_expert * capacity + position, torch.full_like(position, spare))
        token = torch.arange(tokens, device=x.device).repeat_interleave(2)
        # dispatch: each chosen token's row into its expert slot
        buffer = x.new_zeros(spare + 1, dim).index_add(0, slot, x[token])
        hidden = F.gelu(torch.bmm(buffer[:spare].view(self.experts, capacity, dim), self.w_in))
        expert_out = torch.bmm(hidden, self.w_out).reshape(spare, dim)
        expert_out = torch.cat([expert_out, expert_out.new_zeros(1, dim)])     # the spare slot gives zeros
        # combine: each token accumulates its two experts' outputs, weighted by the router
        return torch.zeros_like(x).index_add(0, token, expert_out[slot] * weight.reshape(-1, 1))


class MoEBlock(nn.Module):
    def __init__(self, dim: int = 64, heads: int = 4, experts: int = 4, vocab: int = 500):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.moe = Top2MoE(dim, 2 * dim, experts)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        x = self.embed(tokens)
        h = self.norm1(x)
        x = x + self.attention(h, h, h, need_weights=False)[0]
        batch, length, dim = x.shape
        x = x + self.moe(self.norm2(x).reshape(batch * length, dim)).reshape(batch, length, dim)
        return self.head(x)


def train(model, steps: int, batch: int, length: int, seed: int, vocab: int = 500, lr: float = 0.05,
          desc: str = "train"):
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(steps), desc=desc, unit="step", file=sys.stderr)
    for _ in bar:
        tokens = torch.randint(0, vocab, (batch, length + 1), generator=generator)
        optimizer.zero_grad()
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rest", choices=["inductor", "eager"], default="inductor")
    parser.add_argument("--timing", choices=["sampled", "full"], default="sampled",
                        help="device timing: a sample of launches in detail (default), or every launch")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    eager = MoEBlock()
    ember = copy.deepcopy(eager)
    compiled = torch.compile(ember, backend="ember", options={"rest": args.rest, "timing": args.timing})
    eager_losses = train(eager, args.steps, args.batch, args.length, args.seed, desc="eager")
    ember_losses = train(compiled, args.steps, args.batch, args.length, args.seed, desc="ember (its first step compiles)")
    import torch_ember
    worst = torch_ember.parity.loss_table(eager_losses, ember_losses)
    print(f"worst relative loss difference: {worst:.2e} (tolerance 1e-4)")
    print()
    print(torch_ember.report())
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
