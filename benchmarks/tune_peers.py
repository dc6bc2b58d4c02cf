"""The peers of ``tune_compare.py``: the field's tuners driven on a ``tune.Space`` and an objective, each given
the space as faithfully as it can take it (each runner's docstring says how), each returning the values of
its ``budget`` evaluations in order (None: infeasible).

A peer that cannot be told the known constraints up front gets a violating proposal answered without
measuring it or charging the budget, at most ``SKIPS`` x budget times, after which violations are charged.

``conditions`` (``{parameter: (parent, values)}``: the parameter matters only where the parent takes one of
``values``; ``torch_ember.autotune.Objective.conditions`` for Ember's knobs and ``opt_level``) go to the peers
that take conditional parameters: SMAC3 (ConfigSpace conditions) and Optuna's TPE (define-by-run). A
parameter a proposal leaves inactive is filled with a value the objective ignores (``_filled``).
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optuna

import tune

if TYPE_CHECKING:     # SMAC's; imported where it is used, so that the other peers run without it
    import ConfigSpace

SKIPS = 5       # a peer that cannot be told the known constraints: unmeasured violations per evaluation, at most
Objective = Callable[[dict], float]
Conditions = dict[str, tuple[str, tuple]]


def _measured(space: tune.Space, objective: Objective, config: dict) -> float | None:
    """The objective at ``config``; None where it breaks a known constraint (once a peer's skips are spent) or
    is infeasible, or its value is NaN or infinite (as ``tune.minimize`` counts it)."""
    try:
        value = float(objective(config)) if space.is_feasible(config) else None
    except tune.Infeasible:
        return None
    return value if value is not None and math.isfinite(value) else None


def _permutation(n: int, digit: Callable[[int], int]) -> tuple[int, ...]:
    """The permutation of ``range(n)`` whose Lehmer code has ``digit(i)`` at position ``i``: position ``i``
    picks among the ``n - i`` elements left."""
    left = list(range(n))
    return tuple(left.pop(digit(i)) for i in range(n))


def _active(name: str, config: dict, conditions: Conditions) -> bool:
    """Whether ``name`` matters in ``config`` (its parent, listed before it in the space, already chosen)."""
    return name not in conditions or config[conditions[name][0]] in conditions[name][1]


def _filled(space: tune.Space, config: dict) -> dict:
    """``config`` with the parameters it leaves out (inactive under their conditions) filled in, each with its
    first value that keeps every known constraint whose parameters are all chosen so far: the objective
    ignores them, and the space checks them."""
    filled = dict(config)
    for p in space.params:
        if p.name in filled:
            continue
        candidates = p.values if p.kind in (tune.ParamKind.ORDINAL, tune.ParamKind.CATEGORICAL) else (
            [p.lo] if p.kind is not tune.ParamKind.PERMUTATION else [tuple(range(p.n))])
        filled[p.name] = next((v for v in candidates
                               if all(c.holds({**filled, p.name: v}) for c in space.constraints
                                      if c.names <= {*filled, p.name})), candidates[0])
    return filled


def _suggest(trial: optuna.Trial, space: tune.Space, conditions: Conditions) -> dict:
    config = {}
    for p in space.params:
        if not _active(p.name, config, conditions):
            continue
        if p.kind is tune.ParamKind.REAL:
            config[p.name] = trial.suggest_float(p.name, p.lo, p.hi, log=p.log)
        elif p.kind is tune.ParamKind.INTEGER:
            config[p.name] = trial.suggest_int(p.name, p.lo, p.hi)
        elif p.kind is tune.ParamKind.ORDINAL:
            config[p.name] = p.values[trial.suggest_int(p.name, 0, len(p.values) - 1)]
        elif p.kind is tune.ParamKind.CATEGORICAL:
            config[p.name] = trial.suggest_categorical(p.name, p.values)
        else:
            config[p.name] = _permutation(p.n, lambda i: trial.suggest_int(f"{p.name}_{i}", 0, p.n - 1 - i))
    return _filled(space, config)


def run_optuna(space: tune.Space, objective: Objective, budget: int, seed: int, sampler: str,
               conditions: Conditions | None = None) -> list[float | None]:
    """Optuna's TPE or GP sampler, told failures and known-constraint violations as violated constraints.
    TPE takes ``conditions`` define-by-run: a trial suggests only the parameters its earlier choices make
    active. The GP sampler gets the whole space: it models only the parameters every trial has (Optuna's
    intersection search space) and draws the rest at random, so with Ember's conditions one trial at
    ``opt_level`` 0 would leave it modeling ``opt_level`` alone."""
    made = (optuna.samplers.TPESampler(seed=seed) if sampler == "tpe"
            else optuna.samplers.GPSampler(seed=seed, deterministic_objective=True))
    conditions = (conditions or {}) if sampler == "tpe" else {}
    study = optuna.create_study(sampler=made)
    values, skipped = [], 0
    while len(values) < budget:
        trial = study.ask()
        config = _suggest(trial, space, conditions)
        if not space.is_feasible(config) and skipped < SKIPS * budget:
            skipped += 1
            trial.set_constraint("known", 1.0)
            trial.set_constraint("unknown", 0.0)       # every trial names the same constraints (the GP asks it)
            study.tell(trial, math.inf)
            continue
        value = _measured(space, objective, config)
        trial.set_constraint("known", 0.0)
        trial.set_constraint("unknown", 0.0 if value is not None else 1.0)
        study.tell(trial, value if value is not None else math.inf)
        values.append(value)
    return values


def _configspace(space: tune.Space, seed: int, conditions: Conditions) -> ConfigSpace.ConfigurationSpace:
    """The space for SMAC: ordinals as ordinal hyperparameters, a permutation as its Lehmer code, and an
    ``InCondition`` per conditional parameter."""
    import ConfigSpace
    cs = ConfigSpace.ConfigurationSpace(seed=seed)
    for p in space.params:
        if p.kind is tune.ParamKind.REAL:
            cs.add(ConfigSpace.Float(p.name, (p.lo, p.hi), log=p.log))
        elif p.kind is tune.ParamKind.INTEGER:
            cs.add(ConfigSpace.Integer(p.name, (p.lo, p.hi)))
        elif p.kind is tune.ParamKind.ORDINAL:
            cs.add(ConfigSpace.OrdinalHyperparameter(p.name, list(p.values)))
        elif p.kind is tune.ParamKind.CATEGORICAL:
            cs.add(ConfigSpace.Categorical(p.name, list(p.values)))
        else:
            cs.add(*(ConfigSpace.Integer(f"{p.name}_{i}", (0, p.n - 1 - i)) for i in range(p.n - 1)))  # the last: 0
    cs.add(*(ConfigSpace.InCondition(cs[child], cs[parent], list(values))
             for child, (parent, values) in conditions.items()))
    return cs


def _from_configspace(values: dict, space: tune.Space) -> dict:
    config = {}
    for p in space.params:
        if p.kind is tune.ParamKind.PERMUTATION:
            config[p.name] = _permutation(p.n, lambda i: int(values.get(f"{p.name}_{i}", 0)))
        elif p.name in values:      # else inactive under its condition
            config[p.name] = values[p.name]
    return _filled(space, config)


def run_smac(space: tune.Space, objective: Objective, budget: int, seed: int,
             conditions: Conditions | None = None) -> list[float | None]:
    """SMAC3's hyperparameter-optimization facade (random forest), by ask and tell, with ``conditions`` as
    ConfigSpace conditions; a known-constraint violation is told as a crash and not charged (at most SKIPS x
    budget of them), a failure as a crash. A crash is told at the worst cost seen so far (SMAC's classic
    imputation; its log-scaled encoder turns an infinite cost into NaN, and its forest refuses NaN), and not
    told while nothing has succeeded yet."""
    import smac
    from smac.runhistory import StatusType, TrialValue
    scenario = smac.Scenario(_configspace(space, seed, conditions or {}), deterministic=True,
                             n_trials=(SKIPS + 1) * budget, seed=seed,
                             output_directory=Path(tempfile.mkdtemp()) / "smac")
    facade = smac.HyperparameterOptimizationFacade(scenario, lambda config, seed=0: 0.0, overwrite=True,
                                                   logging_level=40)
    values, skipped = [], 0

    def tell(info, value: float | None) -> None:
        seen = [v for v in values if v is not None] + ([value] if value is not None else [])
        if value is not None:
            facade.tell(info, TrialValue(cost=value, status=StatusType.SUCCESS))
        elif seen:
            facade.tell(info, TrialValue(cost=max(seen), status=StatusType.CRASHED))

    while len(values) < budget:
        info = facade.ask()
        config = _from_configspace(dict(info.config), space)
        if not space.is_feasible(config) and skipped < SKIPS * budget:
            skipped += 1
            tell(info, None)
            continue
        value = _measured(space, objective, config)
        tell(info, value)
        values.append(value)
    return values


class _Spent(Exception):
    """Raised from HyperMapper's black box to end its run once the budget is spent."""


def run_hypermapper(space: tune.Space, objective: Objective, budget: int, seed: int) -> list[float | None]:
    """``_hypermapper`` in a forked process of its own, so that no run sees another's state (HyperMapper keeps
    some in module globals). Forked, so ``objective`` need not pickle; only the values come back. A run that
    HyperMapper stops keeps what it measured, the rest of its budget counts as infeasible, and a line on
    stderr says so."""
    import multiprocessing
    import sys
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        values: list[float | None] = []
        try:
            _hypermapper(space, objective, budget, seed, values)
            send.send((values, None))
        except BaseException as e:      # noqa: BLE001 - a failure goes back to the parent, named
            send.send((values, f"{type(e).__name__}: {e}"))

    process = context.Process(target=child)
    process.start()
    values, error = receive.recv()
    process.join()
    if error is not None:
        print(f"HyperMapper run (seed {seed}) stopped after {len(values)} evaluations: {error}", file=sys.stderr)
    return values + [None] * (budget - len(values))      # a run HyperMapper ended early: the rest infeasible


def _hypermapper(space: tune.Space, objective: Objective, budget: int, seed: int, values: list) -> None:
    """HyperMapper 2's Bayesian optimization (random forest, with its feasibility classifier), driving its own
    loop: ordinals as ordinal parameters over their indices, a permutation as its Lehmer code (each digit an
    ordinal), categoricals as an ordinal over their index (2.2.13's categorical encoding calls scikit-learn's
    ``OneHotEncoder(sparse=)``, which scikit-learn 1.4 removed; the one categorical here has two values, which
    a forest splits the same either way). It takes no conditional parameters (its scenario schema has none)
    and no known constraints, so a violation is answered infeasible without being measured or charged (at
    most SKIPS x budget of them), a failure as infeasible.
    Its local search sometimes proposes an integer or ordinal outside the range it was given (``ty=0`` for
    ``[1, 64]`` on hidden-tiles, seed 5, after 44 evaluations; ``layout=2`` for ``[0, 1]``); such a proposal
    is answered like a known-constraint violation. Before, ``ty=0`` divided by zero, the infinite time made
    HyperMapper's objective normalization NaN, and its forest refused to fit: 1 in 5 runs stopped there.
    Each measured value is appended to ``values`` as it comes."""
    from hypermapper import optimizer
    params = {}
    for p in space.params:
        if p.kind is tune.ParamKind.REAL:
            params[p.name] = {"parameter_type": "real", "values": [p.lo, p.hi]}
        elif p.kind is tune.ParamKind.INTEGER:
            params[p.name] = {"parameter_type": "integer", "values": [p.lo, p.hi]}
        elif p.kind is tune.ParamKind.ORDINAL:
            params[p.name] = {"parameter_type": "ordinal", "values": list(range(len(p.values)))}
        elif p.kind is tune.ParamKind.CATEGORICAL:    # see the docstring: as the integer of its index
            params[p.name] = {"parameter_type": "ordinal", "values": list(range(len(p.values)))}
        else:
            params.update({f"{p.name}_{i}": {"parameter_type": "ordinal", "values": list(range(p.n - i))}
                           for i in range(p.n - 1)})
    skipped = [0]

    def decoded(x: dict) -> dict | None:
        """The configuration HyperMapper proposes, or None when a value is outside its parameter's range (its
        bug: see the docstring)."""
        if not all(spec["values"][0] <= x[name] <= spec["values"][-1] for name, spec in params.items()):
            return None
        config = {}
        for p in space.params:
            if p.kind in (tune.ParamKind.ORDINAL, tune.ParamKind.CATEGORICAL):
                config[p.name] = p.values[int(x[p.name])]
            elif p.kind is tune.ParamKind.PERMUTATION:
                config[p.name] = _permutation(p.n, lambda i: int(x.get(f"{p.name}_{i}", 0)))
            else:
                config[p.name] = x[p.name]
        return config

    def black_box(x: dict) -> dict:
        config = decoded(x)
        if (config is None or not space.is_feasible(config)) and skipped[0] < SKIPS * budget:
            skipped[0] += 1
            return {"value": 0.0, "Valid": False}
        value = None if config is None else _measured(space, objective, config)
        values.append(value)
        if len(values) >= budget:
            raise _Spent
        return {"value": value if value is not None else 0.0, "Valid": value is not None}

    folder = Path(tempfile.mkdtemp())
    scenario = {"application_name": "tune_compare", "optimization_objectives": ["value"],
                "feasible_output": {"name": "Valid", "true_value": True, "false_value": False,
                                    "enable_feasible_predictor": True},
                "design_of_experiment": {"doe_type": "random sampling", "number_of_samples": min(10, budget)},
                "optimization_iterations": (SKIPS + 1) * budget, "input_parameters": params,
                "run_directory": str(folder), "output_data_file": str(folder / "samples.csv"),
                "log_file": str(folder / "hypermapper.log")}
    (folder / "scenario.json").write_text(json.dumps(scenario))
    random.seed(seed)
    np.random.seed(seed)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            optimizer.optimize(str(folder / "scenario.json"), black_box)
    except _Spent:
        pass
