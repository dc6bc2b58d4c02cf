"""User priors: a belief, per parameter, about where good values lie (BaCO's priors, used as piBO uses them).

A prior is a density over one parameter's values (1 at its mode); a configuration's prior is the product
over the parameters that have one (the others are uniform), mixed with a uniform share, so that no
configuration's prior is below that share: a wrong prior must slow the search, not wall it off. It acts
twice:

- the design of experiments is drawn from it, unmixed (among many uniform configurations that satisfy the
  known constraints, each kept with probability proportional to its prior), so the first evaluations look
  where the user believes good values are;
- the acquisition is multiplied by ``prior(x) ** (strength / n)`` after ``n`` evaluations (piBO, Hvarfner et
  al., ICLR 2022): early the prior steers the search; as evidence accumulates the exponent goes to zero and
  the prior is forgotten, so a wrong one costs evaluations, not the optimum.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tune.params import Categorical, Integer, Ordinal, Param, Permutation, Real
from tune.space import Config, Space

_UNIFORM_SHARE = 0.05   # the prior is mixed with a uniform one: 20x is the most it favours a configuration
_DESIGN_POOL = 64       # uniform configurations per design point among which the prior picks


@dataclass(frozen=True)
class Gaussian:
    """Good values near ``mean``, within about ``std`` (a Real or Integer parameter; on a log-scale Real,
    both in the parameter's own units and the density taken over log values)."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        for field_name in ("mean", "std"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"a Gaussian prior's {field_name} must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"a Gaussian prior's {field_name} must be finite, got {value}")
        if not self.std > 0:
            raise ValueError(f"a Gaussian prior needs std > 0, got {self.std}")

    def density(self, param: Param, values: np.ndarray) -> np.ndarray:
        if isinstance(param, Real) and param.log:
            centre, spread = math.log(self.mean), math.log1p(self.std / self.mean)
            values = np.log(values)
        else:
            centre, spread = self.mean, self.std
        return np.exp(-0.5 * ((values - centre) / spread) ** 2)


@dataclass(frozen=True)
class Weights:
    """Relative weights of an Ordinal's, Categorical's or Integer's values; values left out weigh 0 (before
    the uniform share)."""

    weights: Mapping[Any, float]

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping):
            raise TypeError(f"Weights take a mapping of values to weights, got {type(self.weights).__name__}")
        if any(isinstance(w, bool) or not isinstance(w, numbers.Real) for w in self.weights.values()):
            raise TypeError(f"Weights must be real numbers; got {dict(self.weights)}")
        if not self.weights or any(not w >= 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError(f"Weights need non-negative weights, not all zero; got {dict(self.weights)}")

    def density(self, param: Param, values: np.ndarray) -> np.ndarray:
        top = max(self.weights.values())
        return np.asarray([self.weights.get(v, 0.0) / top for v in values.tolist()], dtype=np.float64)


Prior = Gaussian | Weights


_NEGLIGIBLE = 1e-6      # a Gaussian whose density is below this over a whole range says nothing about it


def check_priors(space: Space, priors: Mapping[str, Prior]) -> None:
    """Refuse a prior on an unknown parameter, on a permutation, of the wrong kind for its parameter, or one
    that would be ignored: weights on values the parameter does not take, a Gaussian with no weight inside
    its parameter's range."""
    params = {p.name: p for p in space.params}
    for name, prior in priors.items():
        param = params.get(name)
        if param is None:
            raise ValueError(f"prior for unknown parameter {name!r}; parameters: {sorted(params)}")
        if not isinstance(prior, (Gaussian, Weights)):
            raise TypeError(f"parameter {name!r}: a prior is a tune.Gaussian or tune.Weights, got {prior!r}")
        if isinstance(param, Permutation):
            raise ValueError(f"parameter {name!r}: priors on permutations are not supported")
        if isinstance(prior, Gaussian):
            _check_gaussian(param, prior)
        elif not isinstance(param, (Ordinal, Categorical, Integer)):
            raise ValueError(f"parameter {name!r}: Weights need an Ordinal, Categorical or Integer parameter")
        else:
            strangers = [v for v in prior.weights if not _takes(param, v)]
            if strangers:
                values = f"[{param.lo}, {param.hi}]" if isinstance(param, Integer) else list(param.values)
                raise ValueError(f"parameter {name!r}: Weights on {strangers}, which are not among its values "
                                 f"{values}")


def _takes(param: Param, value: Any) -> bool:
    """Whether an Integer, Ordinal or Categorical parameter takes ``value`` (``True`` is not ``1``)."""
    if isinstance(param, Integer):
        return not isinstance(value, bool) and isinstance(value, numbers.Integral) and param.lo <= value <= param.hi
    return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in param.values)


def _check_gaussian(param: Param, prior: Gaussian) -> None:
    if not isinstance(param, (Real, Integer)):
        raise ValueError(f"parameter {param.name!r}: a Gaussian prior needs a Real or Integer parameter")
    if isinstance(param, Real) and param.log and prior.mean <= 0:
        raise ValueError(f"parameter {param.name!r} is searched on a log scale: a Gaussian prior's mean must be "
                         f"positive, got {prior.mean}")
    nearest = min(max(prior.mean, param.lo), param.hi)
    if prior.density(param, np.asarray([float(nearest)]))[0] < _NEGLIGIBLE:
        raise ValueError(f"parameter {param.name!r}: a Gaussian prior at {prior.mean} with std {prior.std} puts "
                         f"no weight on its range [{param.lo}, {param.hi}]")


def prior_density(space: Space, priors: Mapping[str, Prior], configs: Sequence[Mapping[str, Any]],
                  uniform_share: float = _UNIFORM_SHARE) -> np.ndarray:
    """Each configuration's prior: the product over parameters of their densities, mixed with a uniform
    share (so between ``uniform_share`` and 1)."""
    density = np.ones(len(configs))
    for param in space.params:
        prior = priors.get(param.name)
        if prior is None:
            continue
        values = np.asarray([c[param.name] for c in configs], dtype=object if isinstance(param, Categorical) else None)
        density *= prior.density(param, values)
    return (1 - uniform_share) * density + uniform_share


def prior_design(space: Space, priors: Mapping[str, Prior], n: int, rng: np.random.Generator) -> list[Config]:
    """``n`` distinct configurations drawn from the prior among uniform ones that satisfy the constraints."""
    pool = space.sample(rng, n * _DESIGN_POOL)
    weights = prior_density(space, priors, pool, uniform_share=0.0) + 1e-300   # the design follows the belief
    order = rng.choice(len(pool), size=len(pool), replace=False, p=weights / weights.sum())
    design, keys = [], set()
    for i in order:
        key = space.key(pool[i])
        if key not in keys:
            design.append(pool[i])
            keys.add(key)
        if len(design) == n:
            break
    return design


@dataclass(frozen=True)
class PriorWeighted:
    """``acquisition(x) * prior(x) ** (strength / evaluations)``."""

    acquisition: Callable[[Sequence[Mapping[str, Any]]], np.ndarray]
    space: Space
    priors: Mapping[str, Prior]
    exponent: float

    def __call__(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        scores = self.acquisition(configs)
        if not len(configs):
            return scores
        return scores * prior_density(self.space, self.priors, configs) ** self.exponent
