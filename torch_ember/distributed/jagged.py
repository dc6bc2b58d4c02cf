"""Sparse features as TorchRec passes them: keys, and per key a jagged batch of ids (values, lengths).

``KeyedJagged`` mirrors the layout of TorchRec's ``KeyedJaggedTensor`` (values key-major, ``lengths`` of
``len(keys) * batch``, optional per-id ``weights``); ``as_keyed_jagged`` accepts either, reading a TorchRec
object through its public methods, so torchrec is never imported here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KeyedJagged:
    keys: tuple[str, ...]
    values: torch.Tensor                 # int64 ids, all of key 0's batch, then key 1's, ...
    lengths: torch.Tensor                # ids per (key, sample), key-major
    weights: torch.Tensor | None = None  # one per id, read by weighted tables only

    def __post_init__(self) -> None:
        keys = len(self.keys)
        if keys == 0 or self.lengths.dim() != 1 or self.lengths.numel() % keys:
            raise ValueError(f"lengths must be 1-D with len(keys) * batch entries; got {tuple(self.lengths.shape)} "
                             f"for {keys} key(s)")
        if int(self.lengths.sum()) != self.values.numel():
            raise ValueError(f"lengths add up to {int(self.lengths.sum())} ids but there are {self.values.numel()} "
                             f"values")
        if self.weights is not None and self.weights.shape != self.values.shape:
            raise ValueError(f"weights must match values, got {tuple(self.weights.shape)} and "
                             f"{tuple(self.values.shape)}")

    @property
    def batch_size(self) -> int:
        return self.lengths.numel() // len(self.keys)

    def per_key(self) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """``{key: (ids, lengths, weights or None)}``."""
        lengths = self.lengths.view(len(self.keys), self.batch_size)
        counts = lengths.sum(dim=1).tolist()
        ids = torch.split(self.values, counts)
        weights = torch.split(self.weights, counts) if self.weights is not None else [None] * len(counts)
        return {key: (i, n, w) for key, i, n, w in zip(self.keys, ids, lengths, weights)}

    @staticmethod
    def from_bags(keys: Sequence[str], bags: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
                  weighted: bool = True) -> "KeyedJagged":
        """From ``nn.EmbeddingBag`` style ``(indices, offsets, per_sample_weights)`` per key (offsets start
        each bag, without the last offset)."""
        lengths = [torch.diff(offsets, append=offsets.new_tensor([indices.numel()])) for indices, offsets, _ in bags]
        weights = None
        if weighted:
            weights = torch.cat([w if w is not None else torch.ones(i.numel()) for i, _, w in bags])
        return KeyedJagged(tuple(keys), torch.cat([i.long() for i, _, _ in bags]), torch.cat(lengths).long(), weights)

    def slice_batch(self, start: int, stop: int) -> "KeyedJagged":
        """Samples ``[start, stop)`` of every key: the local batch of one data-parallel rank."""
        parts = self.per_key()
        ids, lengths, weights = [], [], []
        for key in self.keys:
            i, n, w = parts[key]
            first, last = int(n[:start].sum()), int(n[:stop].sum())
            ids.append(i[first:last])
            lengths.append(n[start:stop])
            if w is not None:
                weights.append(w[first:last])
        return KeyedJagged(self.keys, torch.cat(ids), torch.cat(lengths), torch.cat(weights) if weights else None)


def as_keyed_jagged(features) -> KeyedJagged:
    """A ``KeyedJagged`` from itself or from TorchRec's ``KeyedJaggedTensor``."""
    if isinstance(features, KeyedJagged):
        return features
    if all(callable(getattr(features, m, None)) for m in ("keys", "values", "lengths", "weights_or_none")):
        return KeyedJagged(tuple(features.keys()), features.values().long(), features.lengths().long(),
                           features.weights_or_none())
    raise TypeError(f"sparse features must be a KeyedJagged or a torchrec KeyedJaggedTensor, got {type(features)}")
