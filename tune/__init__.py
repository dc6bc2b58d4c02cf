"""tune: a standalone Bayesian-optimization autotuner for mixed, constrained spaces (after BaCO).

    space = tune.Space(
        [tune.Integer("tile", 1, 64), tune.Ordinal("unroll", [1, 2, 4, 8]), tune.Permutation("order", 3)],
        constraints=["tile * unroll <= 128"],
    )
    result = tune.minimize(objective, space, budget=40, seed=0)
    result.best_config, result.best_value, result.history

``tune.OptunaSampler`` is the same search behind Optuna's sampler interface (needs ``optuna``).
"""
from tune.bayesian import BayesianOptions, BayesianSampler
from tune.driver import Infeasible, minimize
from tune.optimize_acq import LocalSearch
from tune.parallel import InlineExecutor
from tune.params import Categorical, Integer, Ordinal, ParamKind, Permutation, Real
from tune.priors import Gaussian, Weights
from tune.results import Evaluation, Result
from tune.sampler import RandomSampler, Sampler
from tune.space import Space
from tune.surrogate import MIXED_DISTANCES, Combination, PermutationDistance, SurrogateKind

__all__ = [
    "MIXED_DISTANCES",
    "BayesianOptions",
    "BayesianSampler",
    "Categorical",
    "Combination",
    "Evaluation",
    "Gaussian",
    "Infeasible",
    "InlineExecutor",
    "Integer",
    "LocalSearch",
    "Ordinal",
    "ParamKind",
    "Permutation",
    "PermutationDistance",
    "RandomSampler",
    "Real",
    "Result",
    "Sampler",
    "Space",
    "SurrogateKind",
    "Weights",
    "minimize",
]


def __getattr__(name: str):
    """``tune.OptunaSampler`` imports Optuna, so only when it is asked for."""
    if name == "OptunaSampler":
        from tune.optuna_sampler import OptunaSampler
        return OptunaSampler
    raise AttributeError(f"module 'tune' has no attribute {name!r}")
