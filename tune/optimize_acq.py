"""Maximizing the acquisition over the constrained, mixed space by multi-start local search.

Gradients do not exist over integers, categories and permutations, so (as in BaCO) we score many random
feasible configurations, start hill climbs from the best of them and from the best observed ones, and
move to the best neighbour (see ``Space.neighbours``) until none improves. Only configurations that
satisfy the known constraints are ever scored, and already-evaluated ones are never returned.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
) -> Config | None:
    """The unseen feasible configuration with the highest acquisition found, or None if none is unseen."""
    pool = space.sample(rng, search.candidates)
    scores = acquisition(pool)
    order = np.argsort(-scores, kind="stable")
    starts = list(incumbents) + [pool[i] for i in order[: search.starts]]
    best, best_score = None, -np.inf
    for i in order:
        if space.key(pool[i]) not in seen:
            best, best_score = pool[i], float(scores[i])
            break
    for start in starts:
        config, score = _climb(acquisition, space, start, rng, search.steps)
        if space.key(config) in seen:
            found = _best_unseen_neighbour(acquisition, space, config, seen, rng)
            if found is None:
                continue
            config, score = found
        if score > best_score:
            best, best_score = config, score
    return best


def _climb(
    acquisition: Callable, space: Space, config: Config, rng: np.random.Generator, steps: int
) -> tuple[Config, float]:
    score = float(acquisition([config])[0])
    for _ in range(steps):
        neighbours = space.neighbours(config, rng)
        if not neighbours:
            break
        values = acquisition(neighbours)
        i = int(np.argmax(values))
        if values[i] <= score:
            break
        config, score = neighbours[i], float(values[i])
    return config, score


def _best_unseen_neighbour(
    acquisition: Callable, space: Space, config: Config, seen: set[tuple], rng: np.random.Generator
) -> tuple[Config, float] | None:
    """A climb that ends on an evaluated point (typically the incumbent) still proposes its best neighbour."""
    neighbours = [n for n in space.neighbours(config, rng) if space.key(n) not in seen]
    if not neighbours:
        return None
    values = acquisition(neighbours)
    i = int(np.argmax(values))
    return neighbours[i], float(values[i])
