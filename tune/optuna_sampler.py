"""tune as an Optuna sampler: ``optuna.create_study(sampler=tune.OptunaSampler())``.

Optuna asks a sampler for a *relative* search space (the parameters every finished trial shared), then to
sample all of it at once; the rest goes to an independent sampler. Here the relative space becomes a
``tune.Space``, every finished trial an observation (a failed or pruned one an infeasible point, which the
feasibility model learns from, as ``tune.minimize`` does with ``Infeasible``), and ``BayesianSampler``
proposes the next point. Parameters first seen in a trial, before they are in every finished trial, are
drawn by Optuna's ``RandomSampler``.

Optuna distributions map onto tune's parameters: a float range is a ``Real`` (on a log scale when the
distribution's is), a stepped float or int range an ``Ordinal`` of its values, an int range of step 1 an
``Integer``, a categorical a ``Categorical`` of its choices' indices (Optuna's own internal form: choices
such as ``1`` and ``True``, equal in Python, stay two). Only single-objective studies are supported.

``options`` name parameters as the study does: ``priors`` and ``groups`` are keyed by Optuna's names (a
``Weights`` prior on a categorical by its choices), and apply once a parameter is in every finished trial.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tune.bayesian import BayesianOptions, BayesianSampler
from tune.params import Categorical, Integer, Ordinal, Param, Real
from tune.priors import Prior, Weights
from tune.space import Space

_STEPPED_LIMIT = 10_000      # a stepped range with more values than this is searched as a continuous one


def _param(name: str, distribution: BaseDistribution) -> Param:
    if isinstance(distribution, CategoricalDistribution):
        return Categorical(name, tuple(range(len(distribution.choices))))
    if isinstance(distribution, IntDistribution):
        if distribution.step == 1 and not distribution.log:
            return Integer(name, distribution.low, distribution.high)
        if distribution.log:
            return Real(name, float(distribution.low), float(distribution.high), log=True)
        return Ordinal(name, tuple(range(distribution.low, distribution.high + 1, distribution.step)))
    if isinstance(distribution, FloatDistribution):
        if distribution.step is not None:
            count = int(round((distribution.high - distribution.low) / distribution.step)) + 1
            if count <= _STEPPED_LIMIT:
                return Ordinal(name, tuple(float(distribution.low + i * distribution.step) for i in range(count)))
        return Real(name, distribution.low, distribution.high, log=distribution.log)
    raise TypeError(f"tune.OptunaSampler cannot search a {type(distribution).__name__}")


def _external(value: Any, distribution: BaseDistribution) -> Any:
    """``value`` as Optuna expects it back for ``distribution`` (an int range gets an int on its step)."""
    if isinstance(distribution, IntDistribution):
        step = distribution.step
        snapped = distribution.low + step * int(round((float(value) - distribution.low) / step))
        return int(min(max(snapped, distribution.low), distribution.high))
    if isinstance(distribution, FloatDistribution):
        return float(min(max(float(value), distribution.low), distribution.high))
    return distribution.to_external_repr(value)


def _inner_names(names: list[str]) -> dict[str, str]:
    """tune's name for each Optuna parameter: its own where that is an identifier, else ``p<i>`` (one the
    study does not use)."""
    inner = {}
    for i, name in enumerate(names):
        fallback = f"p{i}"
        while fallback in names:
            fallback += "_"
        inner[name] = name if name.isidentifier() else fallback
    return inner


def _inner_prior(prior: Prior, distribution: BaseDistribution) -> Prior:
    """A prior as tune's parameter for ``distribution`` takes it: a categorical's weights by choice index."""
    if isinstance(prior, Weights) and isinstance(distribution, CategoricalDistribution):
        return Weights({_choice_index(distribution, key): w for key, w in prior.weights.items()})
    return prior


def _choice_index(distribution: CategoricalDistribution, value: Any) -> Any:
    """The index of ``value`` among the choices, by type and value (``True`` is not ``1``); ``value`` itself when
    it is not one of them."""
    return next((i for i, c in enumerate(distribution.choices) if type(c) is type(value) and c == value), value)


class OptunaSampler(BaseSampler):
    """tune's Bayesian optimization behind Optuna's sampler interface; ``options`` as ``tune.minimize``'s."""

    def __init__(self, seed: int = 0, options: BayesianOptions = BayesianOptions()) -> None:
        self._seed = seed
        self._options = options
        self._independent = RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace()

    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if study._is_multi_objective():
            raise ValueError("tune.OptunaSampler supports single-objective studies only")
        space = self._intersection.calculate(study)
        return {name: d for name, d in space.items() if not d.single()}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        names = sorted(search_space)
        inner = _inner_names(names)
        try:
            space = Space([_param(inner[name], search_space[name]) for name in names])
            options = replace(self._options, priors={
                inner[name]: _inner_prior(prior, search_space[name])
                for name, prior in self._options.priors.items() if name in inner},
                groups=tuple(g for g in (tuple(inner[n] for n in group if n in inner)
                                         for group in self._options.groups) if g))
            sampler = BayesianSampler(space, seed=self._seed, options=options)
        except ValueError as error:      # name the study's parameters, not tune's inner ones
            message = str(error)
            for name in names:
                message = message.replace(repr(inner[name]), repr(name))
            raise ValueError(message) from None
        # the design is the study's (its seed); draws past it differ from one trial to the next
        sampler.rng = np.random.default_rng((self._seed, trial.number))
        sign = -1.0 if study.direction is StudyDirection.MAXIMIZE else 1.0
        for past in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL,
                                                             TrialState.PRUNED)):
            if not all(name in past.params for name in names):
                continue
            config = {inner[name]: _internal(past.params[name], space.params[i], search_space[name])
                      for i, name in enumerate(names)}
            value = sign * past.value if past.state is TrialState.COMPLETE and np.isfinite(past.value) else None
            sampler.observe(config, value)
        proposal = sampler.suggest()
        return {name: _external(proposal[inner[name]], search_space[name]) for name in names}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)


def _internal(value: Any, param: Param, distribution: BaseDistribution) -> Any:
    """A past trial's value as tune's parameter holds it (an ordinal's nearest value, a choice's index)."""
    if isinstance(distribution, CategoricalDistribution):
        return _choice_index(distribution, value)
    if isinstance(param, Ordinal):
        return min(param.values, key=lambda v: abs(float(v) - float(value)))
    if isinstance(param, Integer):
        return int(value)
    return value
