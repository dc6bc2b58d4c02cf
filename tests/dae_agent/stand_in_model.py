"""A stand-in for a language model in decoding tests: a small vocabulary whose tokens join spaces, names and
separators as a BPE vocabulary does, a tokenizer over it, and a model that writes noisy copies of a target
text (a task's expert program)."""
from __future__ import annotations

from types import SimpleNamespace

import torch

WORDS = ["\n", "\n ", "\n  ", "\n   ", "\n    ", "\n\n", " ", "  ", ",", ", ", ";", ":", "=", " =", "[", "]", "(", ")",
         "%", " %", "@", "<-", " <-", "_", ".", "0", "1", "2", "-", "$", " push", " token", " stream", " on", "on",
         "stream", "callback", " callback", "queue", " queue", "execute", "queues", "store", " store", "pop", " pop",
         "mul", " mul", "add", "update", " update", "read", " read", "reset", " reset", "load", "load_row", "_row",
         " load", " load_row", "induction", " induction", "alu", "traversal", " traversal", "dense", " dense",
         "range", " range", "in", " in", "iter", "end", "scalar", " scalar", "row", " row", "i64", " i64", "f32",
         " f32", "tu0", "tu1", " tu0", "q_", "q_i", "q_row", "ROW", "ITEM", "BAG", "i", "r", "b", "j", "lo", "hi",
         "x", "y", "total", "table", "indices", "offsets", "out", "num_indices", "num_offsets", "sum", " sum",
         "acc", " acc", "init", " init", "0.0", " 0.0", "dim", "lanes", "unroll", "```"]
VOCAB = sorted(set(WORDS + [chr(c) for c in range(32, 127)])) + ["<eos>"]
EOS = len(VOCAB) - 1


class Tokenizer:
    eos_token_id = EOS

    def __len__(self):
        return len(VOCAB)

    def decode(self, ids):
        return "".join(VOCAB[i] for i in ids if i != EOS)

    def encode(self, text, add_special_tokens=False):
        return [VOCAB.index(c) for c in text]          # one character a token: the prefix is given


class NoisyCopyModel:
    """Scores each token by whether it continues ``target`` (the expert program) from the answer so far,
    plus seeded noise: it writes near-copies of the program, wandering off where the noise wins."""

    def __init__(self, target: str, prompt_tokens: int, seed: int, noise: float = 3.0):
        self.target, self.prompt_tokens, self.noise = target, prompt_tokens, noise
        self.generator = torch.Generator().manual_seed(seed)
        self.seen: list[int] = []

    def __call__(self, input_ids, cache=None, use_cache=True):
        self.seen += input_ids[0].tolist()
        text = Tokenizer().decode(self.seen[self.prompt_tokens:])
        follows = self.target.startswith(text)
        if follows:
            scores = torch.tensor([12.0 if self.target.startswith(text + w) else 0.0 for w in VOCAB])
            scores[EOS] = 12.0 if text == self.target else 0.0
        else:           # off the program: towards ending the line and the answer
            scores = torch.tensor([6.0 if w.startswith("\n") else 0.0 for w in VOCAB])
            scores[EOS] = 12.0
        scores += self.noise * torch.randn(len(VOCAB), generator=self.generator)
        return SimpleNamespace(logits=scores.view(1, 1, -1), cache=None)
