"""``tune.OptunaSampler``: an Optuna study runs unchanged with tune behind it, on Optuna's float, int, stepped
and categorical parameters, in both directions, with failing trials learned as infeasible."""
import math

import optuna
import pytest

import tune

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)
    rate = trial.suggest_float("learning rate", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 1, 16)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    return (x - 1.0) ** 2 + (math.log10(rate) + 2.0) ** 2 + 0.1 * (n - 5) ** 2 + (0.0 if kind == "b" else 1.0)


def test_it_is_an_optuna_sampler_and_a_study_with_it_finds_the_optimum_region():
    sampler = tune.OptunaSampler(seed=0)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=30)
    assert len(study.trials) == 30
    best = study.best_trial
    assert best.params["kind"] == "b"
    assert study.best_value < 1.0          # optimum 0; random search's best of 30 is far off (next test)


def test_it_beats_random_search_on_the_same_budget_and_seeds():
    wins = 0
    for seed in range(3):
        ours = optuna.create_study(sampler=tune.OptunaSampler(seed=seed))
        ours.optimize(_objective, n_trials=30)
        random = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        random.optimize(_objective, n_trials=30)
        wins += ours.best_value < random.best_value
    assert wins == 3


def test_values_come_back_as_the_distributions_hold_them():
    def objective(trial):
        a = trial.suggest_int("a", 0, 20, step=4)
        b = trial.suggest_float("b", 0.0, 1.0, step=0.25)
        c = trial.suggest_int("c", 1, 1024, log=True)
        assert a % 4 == 0 and 0 <= a <= 20 and isinstance(a, int)
        assert b in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert isinstance(c, int) and 1 <= c <= 1024
        return abs(a - 8) + abs(b - 0.5) + abs(math.log2(c) - 5)

    study = optuna.create_study(sampler=tune.OptunaSampler(seed=1))
    study.optimize(objective, n_trials=20)
    assert study.best_value <= 1.0


def test_a_maximizing_study_maximizes():
    study = optuna.create_study(direction="maximize", sampler=tune.OptunaSampler(seed=0))
    study.optimize(lambda t: -_objective(t), n_trials=25)
    assert study.best_value > -1.5


def test_failing_trials_are_recorded_and_the_study_goes_on():
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        y = trial.suggest_float("y", 0.0, 1.0)
        if x + y > 1.2:
            raise ValueError("infeasible corner")
        return (x - 0.6) ** 2 + (y - 0.5) ** 2

    study = optuna.create_study(sampler=tune.OptunaSampler(seed=0))
    study.optimize(objective, n_trials=25, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.FAIL in states and len(states) == 25
    assert study.best_value < 0.02


def test_multi_objective_studies_are_refused():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=tune.OptunaSampler())
    with pytest.raises(ValueError, match="single-objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)


def test_a_failing_trial_is_not_proposed_again_while_few_trials_have_succeeded():
    """With fewer than two successes there is no surrogate and proposals are random: each trial's draw must
    be a new one, not the same draw of a sampler rebuilt with the same seed (23 of 30 trials were one failing
    configuration)."""
    def objective(trial):
        x = trial.suggest_int("x", 1, 20)
        y = trial.suggest_float("y", 1e-4, 1.0, log=True)
        if x > 5:
            raise RuntimeError("unsupported")
        return x * y

    study = optuna.create_study(sampler=tune.OptunaSampler(seed=0))
    study.optimize(objective, n_trials=30, catch=(RuntimeError,))
    proposed = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(proposed)) == len(proposed)
    assert sum(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials) >= 2


def test_priors_are_keyed_by_the_study_s_parameter_names():
    """Priors name parameters as the study does, even names that are not identifiers, and a categorical's
    weights name its choices; the design then follows them."""
    priors = {"learning rate": tune.Gaussian(1e-2, 5e-3), "kind": tune.Weights({"b": 1.0})}
    sampler = tune.OptunaSampler(seed=0, options=tune.BayesianOptions(priors=priors, initial=8))
    study = optuna.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=12)
    designed = study.trials[2:10]         # the first trial draws every parameter at random; the design follows
    assert sum(t.params["kind"] == "b" for t in designed) >= 6
    assert sum(1e-3 < t.params["learning rate"] < 1e-1 for t in designed) >= 6
    with pytest.raises(ValueError, match=r"parameter 'kind': Weights on \['d'\]"):
        wrong = tune.OptunaSampler(options=tune.BayesianOptions(priors={"kind": tune.Weights({"d": 1.0})}))
        optuna.create_study(sampler=wrong).optimize(_objective, n_trials=3)


def test_categorical_choices_that_python_finds_equal_stay_apart():
    """``1`` and ``True`` are two of Optuna's choices (a tune.Categorical of the choices refused them as not
    distinct); tune searches choice indices."""
    def objective(trial):
        choice = trial.suggest_categorical("c", [None, 1, 2.5, "x", True])
        return {None: 3.0, 1: 2.0, 2.5: 1.0, "x": 4.0}[choice] + (0.5 if choice is True else 0.0)

    study = optuna.create_study(sampler=tune.OptunaSampler(seed=0))
    study.optimize(objective, n_trials=12)
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials) and len(study.trials) == 12
    assert study.best_params == {"c": 2.5}
