"""Maximizing the acquisition over the constrained, mixed space by multi-start local search.

Gradients do not exist over integers, categories and permutations, so (as in BaCO) we score many random
feasible configurations, start hill climbs from the best of them and from the best observed ones, and
move to the best neighbour (see ``Space.neighbours``) until none improves. Only configurations that
satisfy the known constraints are ever scored, and already-evaluated ones are never returned.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tune.space import Config, Space


@dataclass(frozen=True)
class LocalSearch:
    """How hard to search: random candidates scored, climbs started, steps per climb."""

    candidates: int = 256
    starts: int = 6
    steps: int = 15


def maximize(
    acquisition: Callable[[Sequence[Mapping[str, Any]]], np.ndarray],
    space: Space,
    incumbents: Sequence[Config],
    seen: set[tuple],
    rng: np.random.Generator,
    search: LocalSearch = LocalSearch(),
    key: Callable[[Config], Hashable] | None = None,
) -> Config | None:
    """The best-scoring unseen configuration among all scored on the way, or None if all were seen (``seen``
    holds ``key``s of configurations, ``space.key`` by default).

    The climbs advance together so each step costs one batched acquisition call; a climb that stops on
    an evaluated point (typically the incumbent) still contributes its best unseen neighbour.
    """
    best = _Best(seen, key if key is not None else space.key)
    pool = space.sample(rng, search.candidates)
    scores = acquisition(pool)
    best.offer(pool, scores)
    top = np.argsort(-scores, kind="stable")[: search.starts]
    climbs = [(c, float(s)) for c, s in zip(incumbents, acquisition(incumbents))]
    climbs += [(pool[i], float(scores[i])) for i in top]
    for _ in range(search.steps):
        neighbours = [space.neighbours(config, rng) for config, _ in climbs]
        flat = [n for group in neighbours for n in group]
        if not flat:
            break
        values = acquisition(flat)
        best.offer(flat, values)
        moved, start = [], 0
        for (config, score), group in zip(climbs, neighbours):
            if group:
                i = start + int(np.argmax(values[start : start + len(group)]))
                if values[i] > score:
                    moved.append((flat[i], float(values[i])))
            start += len(group)
        climbs = moved
    return best.config


class _Best:
    """Keeps the highest-scoring configuration offered that has not been evaluated yet."""

    def __init__(self, seen: set, key: Callable[[Config], Hashable]) -> None:
        self.seen, self.key = seen, key
        self.config: Config | None = None
        self.score = -np.inf

    def offer(self, configs: Sequence[Config], scores: np.ndarray) -> None:
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] <= self.score:
                return
            if self.key(configs[i]) not in self.seen:
                self.config, self.score = configs[i], float(scores[i])
                return
