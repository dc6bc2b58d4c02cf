"""The tuning loop: ask the sampler, evaluate the objective, tell the sampler, for ``budget`` rounds."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from tune.bayesian import BayesianOptions, BayesianSampler
from tune.results import Evaluation, Result
from tune.sampler import Sampler
from tune.space import Space


class Infeasible(Exception):
    """Raised by an objective for a configuration that cannot run (an unknown constraint is violated)."""


def minimize(
    objective: Callable[[dict[str, Any]], float],
    space: Space,
    budget: int,
    seed: int = 0,
    *,
    sampler: Sampler | None = None,
    options: BayesianOptions = BayesianOptions(),
    callback: Callable[[Evaluation], None] | None = None,
) -> Result:
    """Minimize ``objective`` over ``space`` with ``budget`` evaluations.

    The default sampler is the Bayesian one (seeded by ``seed``, configured by ``options``). A value that
    is NaN or infinite counts as infeasible, like ``Infeasible``; any other exception stops the run.
    ``callback`` sees each evaluation as it completes (the CLI drives its progress bar with it).
    """
    if budget < 1:
        raise ValueError(f"budget must be at least 1, got {budget}")
    sampler = sampler if sampler is not None else BayesianSampler(space, seed, options)
    history = []
    for _ in range(budget):
        config = sampler.suggest()
        start = time.perf_counter()
        try:
            value: float | None = float(objective(dict(config)))
        except Infeasible:
            value = None
        if value is not None and not math.isfinite(value):
            value = None
        evaluation = Evaluation(dict(config), value, time.perf_counter() - start)
        sampler.observe(config, value)
        history.append(evaluation)
        if callback is not None:
            callback(evaluation)
    return Result(tuple(history))
