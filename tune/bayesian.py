"""The Bayesian-optimization sampler, in the manner of BaCO.

A scrambled-Sobol design of experiments first; then, each step, a surrogate of the (log-transformed)
objective fit to the feasible evaluations, a feasibility classifier fit to all of them, and the
configuration maximizing EI x P(feasible) found by local search over the constrained space.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tune.acquisition import ConstrainedEI
from tune.feasibility import FeasibilityModel
from tune.optimize_acq import LocalSearch, maximize
from tune.priors import Prior, PriorWeighted, check_priors, prior_design
from tune.sampler import distinct_from
from tune.space import Config, Space
from tune.surrogate import MIXED_DISTANCES, Combination, PermutationDistance, SurrogateKind, fit_surrogate

# A surrogate needs a few feasible points before its predictions mean anything.
_MIN_FEASIBLE = 2
# Local search also starts from this many of the best configurations evaluated so far.
_INCUMBENT_STARTS = 2


@dataclass(frozen=True)
class BayesianOptions:
    """The method's choices, with BaCO's defaults.

    ``initial``: size of the design of experiments (None: number of parameters + 1, at least 5).
    ``log_objective``: model log(value) when every feasible value so far is positive (runtimes are).
    ``min_feasibility``: never propose what the feasibility classifier thinks more likely to fail than this.
    ``priors``: per parameter name, a ``tune.Gaussian`` or ``tune.Weights`` belief about where good values
    lie (``tune.priors``): the design is drawn from it and the acquisition weighted by it, with the weight's
    exponent ``prior_strength / evaluations`` decaying as evidence comes in.
    """

    surrogate: SurrogateKind = SurrogateKind.GP
    initial: int | None = None
    log_objective: bool = True
    min_feasibility: float = 0.5
    distance: PermutationDistance | tuple[PermutationDistance, ...] = MIXED_DISTANCES
    combination: Combination = Combination.PRODUCT
    search: LocalSearch = LocalSearch()
    priors: Mapping[str, Prior] = field(default_factory=dict)
    prior_strength: float = 10.0


class BayesianSampler:
    """Suggests the design of experiments in order, then the acquisition's maximizer."""

    def __init__(self, space: Space, seed: int = 0, options: BayesianOptions = BayesianOptions()) -> None:
        self.space = space
        self.options = options
        self.rng = np.random.default_rng(seed)
        initial = options.initial if options.initial is not None else max(5, len(space.params) + 1)
        check_priors(space, options.priors)
        self.design = (prior_design(space, options.priors, initial, self.rng) if options.priors
                       else space.design(initial, seed))
        self.configs: list[Config] = []
        self.values: list[float | None] = []
        self.seen: set[tuple] = set()

    def suggest(self) -> Config:
        if len(self.configs) < len(self.design):
            return self.design[len(self.configs)]
        feasible = np.asarray([v is not None for v in self.values])
        if feasible.sum() < _MIN_FEASIBLE:
            return self.space.sample(self.rng)[0]
        x = self.space.encode(self.configs)
        y = self._targets(np.asarray([v for v in self.values if v is not None], dtype=np.float64))
        seed = int(self.rng.integers(2**31))
        opts = self.options
        surrogate = fit_surrogate(opts.surrogate, self.space, x[feasible], y, seed, opts.distance, opts.combination)
        feasibility = FeasibilityModel.fit(x, feasible, seed)
        acquisition = ConstrainedEI(self.space, surrogate, feasibility, float(y.min()), opts.min_feasibility)
        if opts.priors:
            acquisition = PriorWeighted(acquisition, self.space, opts.priors, opts.prior_strength / len(self.configs))
        good = [c for c, v in zip(self.configs, self.values) if v is not None]
        incumbents = [good[i] for i in np.argsort(y, kind="stable")[:_INCUMBENT_STARTS]]
        found = maximize(acquisition, self.space, incumbents, self.seen, self.rng, opts.search)
        return found if found is not None else self.space.sample(self.rng)[0]

    def suggest_batch(self, k: int) -> list[Config]:
        """``k`` distinct configurations by the constant liar: each proposal is observed, for the next, as if
        it had scored the best value seen so far (infeasible before any is feasible); then the lies are
        taken back. A proposal already in the batch is redrawn at random from the space."""
        known, seen = len(self.configs), set(self.seen)
        feasible = [v for v in self.values if v is not None]
        lie = min(feasible) if feasible else None
        batch: list[Config] = []
        try:
            for _ in range(k):
                config = self.suggest()
                config = distinct_from(self.space, batch, config, lambda: self.space.sample(self.rng)[0])
                batch.append(config)
                self.observe(config, lie)
        finally:
            del self.configs[known:], self.values[known:]
            self.seen = seen
        return batch

    def observe(self, config: Mapping[str, Any], value: float | None) -> None:
        self.configs.append(dict(config))
        self.values.append(value)
        self.seen.add(self.space.key(config))

    def _targets(self, values: np.ndarray) -> np.ndarray:
        if self.options.log_objective and (values > 0).all():
            return np.log(values)
        return values
