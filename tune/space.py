"""The search space: parameters plus known constraints, with sampling, encoding and neighbourhoods.

Everything a sampler needs to move through the space lives here, so samplers, surrogates and the
acquisition optimizer never branch on parameter types themselves.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from tune.constraints import Constraint
from tune.params import Param, ParamKind

Config = dict[str, Any]

# Rejection sampling gives up after this many draws per wanted configuration.
_MAX_REJECTIONS = 1000


@dataclass(frozen=True, init=False)
class Space:
    """Parameters (in order) and the constraints every suggested configuration must satisfy."""

    params: tuple[Param, ...]
    constraints: tuple[Constraint, ...]

    def __init__(self, params: Iterable[Param], constraints: Iterable[str | Constraint] = ()) -> None:
        params = tuple(params)
        if not params:
            raise ValueError("a space needs at least one parameter")
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"parameter names must be unique; repeated: {duplicates}")
        parsed = tuple(c if isinstance(c, Constraint) else Constraint.parse(c, names) for c in constraints)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "constraints", parsed)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def width(self) -> int:
        """Dimensions of the unit cube a design of experiments fills."""
        return sum(p.width for p in self.params)

    def is_feasible(self, config: Mapping[str, Any]) -> bool:
        return all(c.holds(config) for c in self.constraints)

    def from_unit(self, u: Sequence[float]) -> Config:
        config, start = {}, 0
        for p in self.params:
            config[p.name] = p.from_unit(np.asarray(u[start : start + p.width]))
            start += p.width
        return config

    def sample(self, rng: np.random.Generator, n: int = 1) -> list[Config]:
        """``n`` independent uniform configurations that satisfy the known constraints."""
        return self._accept((self.from_unit(rng.random(self.width)) for _ in range(n * _MAX_REJECTIONS)), n)

    def design(self, n: int, seed: int) -> list[Config]:
        """A space-filling start: scrambled Sobol points mapped onto each parameter, infeasible ones rejected."""
        sobol = qmc.Sobol(self.width, scramble=True, seed=seed)
        chunk = 1 << max(n - 1, 0).bit_length()  # Sobol points balance only in powers of two
        draws = (self.from_unit(u) for _ in range(_MAX_REJECTIONS) for u in sobol.random(chunk))
        return self._accept(draws, n)

    def _accept(self, draws: Iterable[Config], n: int) -> list[Config]:
        out = []
        for config in draws:
            if len(out) == n:
                break
            if self.is_feasible(config):
                out.append(config)
        if len(out) < n:
            texts = [c.text for c in self.constraints]
            raise ValueError(f"the known constraints admit almost no configurations: {texts}")
        return out

    def neighbours(self, config: Mapping[str, Any], rng: np.random.Generator) -> list[Config]:
        """Configurations one parameter change away that still satisfy the known constraints."""
        out = []
        for p in self.params:
            for value in p.neighbours(config[p.name], rng):
                candidate = {**config, p.name: value}
                if self.is_feasible(candidate):
                    out.append(candidate)
        return out

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """One row of numbers per configuration, columns laid out as in ``columns``."""
        rows = [[x for p in self.params for x in p.encode(c[p.name])] for c in configs]
        return np.asarray(rows, dtype=np.float64).reshape(len(configs), self.width)

    def columns(self) -> dict[str, tuple[ParamKind, list[int]]]:
        """Encoded column indices of each parameter, with its kind, for kernels that act on a subset."""
        out, start = {}, 0
        for p in self.params:
            out[p.name] = (p.kind, list(range(start, start + p.width)))
            start += p.width
        return out

    def key(self, config: Mapping[str, Any]) -> tuple:
        """A hashable identity for a configuration, to avoid evaluating it twice."""
        return tuple(config[n] for n in self.names)
