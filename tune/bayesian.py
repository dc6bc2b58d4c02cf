"""The Bayesian-optimization sampler, in the manner of BaCO.

A scrambled-Sobol design of experiments first; then, each step, a surrogate of the (log-transformed)
objective fit to the feasible evaluations, a feasibility classifier fit to all of them, and the
configuration maximizing EI x P(feasible) found by local search over the constrained space.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tune.acquisition import ConstrainedEI
from tune.feasibility import FeasibilityModel
from tune.optimize_acq import LocalSearch, maximize
from tune.priors import Prior, PriorWeighted, check_priors, prior_design
from tune.sampler import distinct_from
from tune.space import Config, Space
from tune.surrogate import MIXED_DISTANCES, Combination, PermutationDistance, Surrogate, SurrogateKind, fit_surrogate

# A surrogate needs a few feasible points before its predictions mean anything.
_MIN_FEASIBLE = 2
# The design of experiments: parameters + 1 configurations (BaCO's), at least this many ...
_MIN_DESIGN = 5
# ... and, when the budget is known, at most this share of it (as SMAC3's initial designs cap theirs): with
# 41 parameters and a budget of 60, the design took 42 evaluations and the model had 18 to work with.
_DESIGN_SHARE = 0.25
# Local search also starts from this many of the best configurations evaluated so far.
_INCUMBENT_STARTS = 2


@dataclass(frozen=True)
class BayesianOptions:
    """The method's choices, with BaCO's defaults.

    ``initial``: size of the design of experiments (None: number of parameters + 1, at least 5, and at most a
    quarter of the budget when the sampler is told it).
    ``log_objective``: model log(value) when every feasible value so far is positive (runtimes are).
    ``min_feasibility``: never propose what the feasibility classifier thinks more likely to fail than this.
    ``priors``: per parameter name, a ``tune.Gaussian`` or ``tune.Weights`` belief about where good values
    lie (``tune.priors``): the design is drawn from it and the acquisition weighted by it, with the weight's
    exponent ``prior_strength / evaluations`` decaying as evidence comes in.
    ``groups``: names of parameters whose effects add up (a cost that is a sum of parts, each part's
    parameters a group; a parameter every part depends on goes in each): the GP is then a sum of one kernel
    per group (``surrogate.kernels.make_kernel``).
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
    groups: tuple[tuple[str, ...], ...] = ()


def design_size(params: int, budget: int | None = None) -> int:
    """The default size of the design of experiments for ``params`` parameters and, if known, ``budget``."""
    size = max(_MIN_DESIGN, params + 1)
    return size if budget is None else max(_MIN_DESIGN, min(size, int(budget * _DESIGN_SHARE)))


class BayesianSampler:
    """Suggests the design of experiments in order, then the acquisition's maximizer."""

    def __init__(self, space: Space, seed: int = 0, options: BayesianOptions = BayesianOptions(),
                 budget: int | None = None, equivalent: Callable[[Config], Hashable] | None = None) -> None:
        self.space = space
        # configurations with one key give one value (``minimize``'s ``equivalent``); one evaluated, none is
        # proposed again
        self.key = equivalent if equivalent is not None else space.key
        self.options = options
        self.rng = np.random.default_rng(seed)
        initial = options.initial if options.initial is not None else design_size(len(space.params), budget)
        check_priors(space, options.priors)
        unknown = sorted({name for names in options.groups for name in names} - set(space.names))
        if unknown or not all(options.groups):
            raise ValueError(f"BayesianOptions.groups must be non-empty groups of the space's parameters "
                             f"({', '.join(space.names)}); unknown: {', '.join(unknown) or 'none'}")
        self.design = (prior_design(space, options.priors, initial, self.rng) if options.priors
                       else space.design(initial, seed))
        self.configs: list[Config] = []
        self.values: list[float | None] = []
        self.seen: set[tuple] = set()

    def suggest(self) -> Config:
        return self.suggest_batch(1)[0]

    def suggest_batch(self, k: int) -> list[Config]:
        """``k`` distinct configurations to evaluate at once: the design's next ones, then each the
        acquisition's maximizer on one surrogate (fit once, on the evaluations so far) that believes the
        batch's earlier proposals scored its own prediction there (the Kriging believer): their uncertainty
        is gone, so the next proposal looks elsewhere. While too few evaluations succeed to fit them, and
        where the acquisition finds nothing new, a proposal is a random draw that neither an evaluation nor the
        batch holds; a design point the batch holds is redrawn likewise."""
        batch: list[Config] = []
        step = None
        for _ in range(k):
            evaluated = len(self.configs) + len(batch)
            taken = {self.key(c) for c in batch}
            if evaluated < len(self.design):
                config = self.design[evaluated]
            else:
                taken |= self.seen
                step = step if step is not None else self._step(batch)
                found = step.propose(taken) if step else None
                config = found if found is not None else self._draw()
            config = distinct_from(self.key, taken, config, self._draw)
            batch.append(config)
            if step is not None and len(batch) < k:
                step = step.believing(config)
        return batch

    def _draw(self) -> Config:
        return self.space.sample(self.rng)[0]

    def _step(self, pending: list[Config]) -> _Step | None:
        """The surrogate, feasibility model and incumbents of one step, fit to the evaluations so far and
        believing ``pending``; None while too few evaluations are feasible."""
        feasible = np.asarray([v is not None for v in self.values])
        if feasible.sum() < _MIN_FEASIBLE:
            return None
        x = self.space.encode(self.configs)
        y = self._targets(np.asarray([v for v in self.values if v is not None], dtype=np.float64))
        seed = int(self.rng.integers(2**31))
        opts = self.options
        surrogate = fit_surrogate(opts.surrogate, self.space, x[feasible], y, seed, opts.distance, opts.combination,
                                  opts.groups)
        good = [c for c, v in zip(self.configs, self.values) if v is not None]
        step = _Step(self, surrogate, FeasibilityModel.fit(x, feasible, seed), float(y.min()),
                     [good[i] for i in np.argsort(y, kind="stable")[:_INCUMBENT_STARTS]])
        for config in pending:
            step = step.believing(config)
        return step

    def observe(self, config: Mapping[str, Any], value: float | None) -> None:
        self.configs.append(dict(config))
        self.values.append(value)
        self.seen.add(self.key(config))

    def _targets(self, values: np.ndarray) -> np.ndarray:
        if self.options.log_objective and (values > 0).all():
            return np.log(values)
        return values


@dataclass(frozen=True)
class _Step:
    """What one step proposes from: the models, the best target seen and where local search starts."""

    sampler: BayesianSampler
    surrogate: Surrogate
    feasibility: FeasibilityModel
    best: float
    incumbents: list[Config]

    def propose(self, seen: set[tuple]) -> Config | None:
        """The unseen configuration that maximizes the acquisition (None when local search finds none)."""
        space, opts = self.sampler.space, self.sampler.options
        acquisition = ConstrainedEI(space, self.surrogate, self.feasibility, self.best, opts.min_feasibility)
        if opts.priors:
            exponent = opts.prior_strength / len(self.sampler.configs)
            acquisition = PriorWeighted(acquisition, space, opts.priors, exponent)
        return maximize(acquisition, space, self.incumbents, seen, self.sampler.rng, opts.search, self.sampler.key)

    def believing(self, config: Config) -> _Step:
        return replace(self, surrogate=self.surrogate.fantasize(self.sampler.space.encode([config])))
