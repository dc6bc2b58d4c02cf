"""User priors (``tune.Gaussian``, ``tune.Weights`` in ``BayesianOptions.priors``): they pull the design and the
proposals toward their mode, their pull decays with evidence so a wrong prior is forgotten, and priors that
cannot apply are refused."""
import numpy as np
import pytest

import tune
from tune.priors import PriorWeighted, prior_density


def _space():
    return tune.Space([tune.Integer("x", 0, 100), tune.Ordinal("unroll", [1, 2, 4, 8, 16]),
                       tune.Real("rate", 1e-4, 1.0, log=True)])


def test_densities_peak_at_the_mode_and_never_reach_zero():
    space = _space()
    priors = {"x": tune.Gaussian(50, 5), "unroll": tune.Weights({4: 1.0, 8: 0.5})}
    configs = [{"x": 50, "unroll": 4, "rate": 0.1}, {"x": 60, "unroll": 8, "rate": 0.1},
               {"x": 0, "unroll": 1, "rate": 0.1}]
    density = prior_density(space, priors, configs)
    assert density[0] == pytest.approx(1.0)
    assert density[1] == pytest.approx(0.95 * np.exp(-2.0) * 0.5 + 0.05)
    assert 0.05 <= density[2] < 0.0501                           # the uniform share: never walled off
    log_rate = prior_density(space, {"rate": tune.Gaussian(0.01, 0.01)}, [{"x": 0, "unroll": 1, "rate": r}
                                                                          for r in (0.01, 0.1, 1e-4)])
    assert log_rate[0] == pytest.approx(1.0) and log_rate[0] > log_rate[1] and log_rate[0] > log_rate[2]


def test_the_design_and_the_proposals_move_toward_the_prior_s_mode():
    space = _space()
    flat = lambda config: 1.0                                     # noqa: E731  nothing to learn: only the prior steers
    with_prior = tune.BayesianOptions(priors={"x": tune.Gaussian(80, 4)}, initial=6)
    guided = tune.minimize(flat, space, 14, seed=0, options=with_prior)
    blind = tune.minimize(flat, space, 14, seed=0, options=tune.BayesianOptions(initial=6))
    distance = lambda result, part: np.mean([abs(e.config["x"] - 80) for e in part(result.history)])  # noqa: E731
    assert distance(guided, lambda h: h[:6]) < 10 < distance(blind, lambda h: h[:6])      # the design
    assert distance(guided, lambda h: h[6:]) < distance(blind, lambda h: h[6:]) / 2       # the proposals after it


def test_the_pull_decays_with_evidence():
    space = _space()
    priors = {"x": tune.Gaussian(80, 4)}
    near, far = {"x": 80, "unroll": 4, "rate": 0.1}, {"x": 20, "unroll": 4, "rate": 0.1}

    def ratio(evaluations):
        acquisition = PriorWeighted(lambda configs: np.ones(len(configs)), space, priors, 10.0 / evaluations)
        near_score, far_score = acquisition([near, far])
        return near_score / far_score

    assert ratio(5) > 100 and ratio(50) > ratio(500) > ratio(5000)
    assert ratio(5000) < 1.1


def test_a_wrong_prior_is_forgotten_and_a_good_one_helps():
    space = tune.Space([tune.Integer("x", 0, 100), tune.Integer("y", 0, 100)])
    objective = lambda c: 1.0 + ((c["x"] - 12) ** 2 + (c["y"] - 30) ** 2) / 100       # noqa: E731
    wrong = tune.BayesianOptions(priors={"x": tune.Gaussian(90, 5), "y": tune.Gaussian(90, 5)})
    good = tune.BayesianOptions(priors={"x": tune.Gaussian(15, 5), "y": tune.Gaussian(25, 5)})
    for seed in range(2):
        recovered = tune.minimize(objective, space, 40, seed=seed, options=wrong)
        assert recovered.best_value < 1.1                                  # within 3 of the optimum
        helped = tune.minimize(objective, space, 10, seed=seed, options=good)
        blind = tune.minimize(objective, space, 10, seed=seed)
        assert helped.best_value < blind.best_value


@pytest.mark.parametrize("priors, message", [
    ({"nope": tune.Gaussian(1, 1)}, "unknown parameter"),
    ({"order": tune.Weights({(0, 1): 1.0})}, "permutations"),
    ({"unroll": tune.Gaussian(4, 1)}, "Real or Integer"),
    ({"rate": tune.Weights({0.1: 1.0})}, "Ordinal, Categorical or Integer"),
    # priors that would be accepted and then ignored: weights on values the parameter does not take, a
    # Gaussian with no weight on the range, a Gaussian mean a log scale cannot take
    ({"unroll": tune.Weights({3: 1.0, 16: 2.0})}, r"Weights on \[3, 16\], which are not among its values"),
    ({"unroll": tune.Weights({"4": 1.0})}, "not among its values"),
    ({"layout": tune.Weights({"diag": 1.0})}, "not among its values"),
    ({"tile": tune.Weights({65: 1.0})}, r"not among its values \[1, 64\]"),
    ({"tile": tune.Gaussian(1000, 1)}, "puts no weight on its range"),
    ({"log_rate": tune.Gaussian(0.0, 0.1)}, "log scale: a Gaussian prior's mean must be positive"),
])
def test_priors_that_cannot_apply_are_refused(priors, message):
    space = tune.Space([tune.Ordinal("unroll", [1, 2, 4]), tune.Real("rate", 1e-3, 1.0), tune.Permutation("order", 2),
                        tune.Categorical("layout", ("row", "col")), tune.Integer("tile", 1, 64),
                        tune.Real("log_rate", 1e-4, 1.0, log=True)])
    with pytest.raises(ValueError, match=message):
        tune.BayesianSampler(space, options=tune.BayesianOptions(priors=priors))
    with pytest.raises(ValueError):
        tune.Gaussian(1.0, 0.0)


@pytest.mark.parametrize("make", [lambda: tune.Gaussian("32", 8), lambda: tune.Gaussian(32, None),
                                  lambda: tune.Weights([1, 2]), lambda: tune.Weights({1: "heavy"})])
def test_priors_of_the_wrong_type_are_a_type_error(make):
    with pytest.raises(TypeError):
        make()


def test_a_prior_that_is_not_a_prior_is_a_type_error_naming_its_parameter():
    space = tune.Space([tune.Integer("tile", 1, 64)])
    for wrong in ((32, 8), 32.0):
        with pytest.raises(TypeError, match="parameter 'tile': a prior is a tune.Gaussian or tune.Weights"):
            tune.BayesianSampler(space, options=tune.BayesianOptions(priors={"tile": wrong}))
    with pytest.raises(ValueError, match="finite"):
        tune.Gaussian(float("nan"), 1.0)
