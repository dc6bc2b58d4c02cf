"""The sampler contract, run over every sampler: reproducible by seed, inside the known constraints."""
from __future__ import annotations

import math

import pytest

import tune
from tune_problems import constrained_space

SAMPLERS = {
    "random": lambda space, seed: tune.RandomSampler(space, seed),
    "bayesian-gp": lambda space, seed: tune.BayesianSampler(space, seed, tune.BayesianOptions(initial=5)),
    "bayesian-forest": lambda space, seed: tune.BayesianSampler(
        space, seed, tune.BayesianOptions(surrogate=tune.SurrogateKind.FOREST, initial=5)
    ),
    "bayesian-gp-sum-spearman": lambda space, seed: tune.BayesianSampler(
        space,
        seed,
        tune.BayesianOptions(
            initial=5, combination=tune.Combination.SUM, distance=tune.PermutationDistance.SPEARMAN
        ),
    ),
}
BUDGET = 10


def objective(config: dict) -> float:
    """Fails (an unknown constraint) for column layouts with large tiles, so samplers see both outcomes."""
    if config["layout"] == "col" and config["tile"] > 16:
        raise tune.Infeasible("column layout needs small tiles")
    return (
        abs(math.log(config["rate"]) + 3)
        + abs(config["tile"] * config["unroll"] - 32) / 8
        + {"row": 0.5, "col": 0.0, "blocked": 1.0}[config["layout"]]
        + config["order"][0]
        + 0.1
    )


def _run(name: str, seed: int) -> tune.Result:
    space = constrained_space()
    return tune.minimize(objective, space, BUDGET, seed, sampler=SAMPLERS[name](space, seed))


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_gives_the_same_trajectory_and_every_suggestion_honours_known_constraints(name):
    first, second = _run(name, seed=7), _run(name, seed=7)
    assert [e.config for e in first.history] == [e.config for e in second.history]
    assert [e.value for e in first.history] == [e.value for e in second.history]
    assert len(first.history) == BUDGET
    space = constrained_space()
    assert all(space.is_feasible(e.config) for e in first.history)
    assert first.best_value == min(e.value for e in first.history if e.feasible)


@pytest.mark.parametrize("name", ["random", "bayesian-gp"])
def test_different_seeds_give_different_trajectories(name):
    assert [e.config for e in _run(name, 1).history] != [e.config for e in _run(name, 2).history]


def test_bayesian_sampler_never_repeats_an_evaluated_configuration():
    space = tune.Space([tune.Ordinal("a", [1, 2, 4]), tune.Categorical("b", ["x", "y"])])
    result = tune.minimize(lambda c: c["a"] + (c["b"] == "y"), space, 6, 0, options=tune.BayesianOptions(initial=2))
    assert len({(e.config["a"], e.config["b"]) for e in result.history}) == 6
    assert result.best_config == {"a": 1, "b": "x"}


def test_minimize_records_infeasible_and_non_finite_values_as_infeasible():
    space = tune.Space([tune.Integer("n", 0, 3)])
    outcomes = iter([1.0, float("nan"), tune.Infeasible(), 2.0])

    def objective(config: dict) -> float:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = tune.minimize(objective, space, 4, sampler=tune.RandomSampler(space, 0))
    assert [e.feasible for e in result.history] == [True, False, False, True]
    assert result.best_value == 1.0 and all(e.seconds >= 0 for e in result.history)


def test_nothing_feasible_gives_no_best():
    def never(config: dict) -> float:
        raise tune.Infeasible()

    result = tune.minimize(never, tune.Space([tune.Real("x", 0, 1)]), 3, options=tune.BayesianOptions(initial=2))
    assert result.best_config is None and result.best_value is None and len(result.history) == 3
