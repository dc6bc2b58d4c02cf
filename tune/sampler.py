"""The sampler interface every search strategy implements, and the random-search baseline.

A sampler is told about each evaluation through ``observe`` and proposes the next configuration through
``suggest``; the driver (``tune.driver.minimize``) only ever talks to this interface, so strategies can be
swapped and compared on the same contract (same seed, same trajectory).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

import numpy as np

from tune.space import Config, Space


class Sampler(Protocol):
    def suggest(self) -> Config:
        """The next configuration to evaluate; it always satisfies the space's known constraints."""

    def observe(self, config: Mapping[str, Any], value: float | None) -> None:
        """Record an evaluation; ``value`` is None when the configuration turned out infeasible."""

    # Optional: ``suggest_batch(k) -> list[Config]``, ``k`` distinct configurations to evaluate at once
    # (``tune.minimize(..., workers=k)``); without it the driver asks ``suggest`` ``k`` times.


class RandomSampler:
    """Uniform random configurations among those satisfying the known constraints; learns nothing."""

    def __init__(self, space: Space, seed: int = 0) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def suggest(self) -> Config:
        return self.space.sample(self.rng)[0]

    def suggest_batch(self, k: int) -> list[Config]:
        batch: list[Config] = []
        for _ in range(k):
            batch.append(distinct_from(self.space.key, {self.space.key(c) for c in batch}, self.suggest(),
                                       self.suggest))
        return batch

    def observe(self, config: Mapping[str, Any], value: float | None) -> None:
        """Random search ignores results."""


_DRAWS_PER_SLOT = 100       # tries to find a configuration not taken before accepting a repeat


def distinct_from(key: Callable[[Config], Hashable], taken: set, config: Config, redraw) -> Config:
    """``config``, or when its ``key`` is ``taken`` already, a ``redraw()`` whose key is not (a few tries: a
    space with fewer configurations than are taken repeats some)."""
    for _ in range(_DRAWS_PER_SLOT):
        if key(config) not in taken:
            return config
        config = redraw()
    return config
