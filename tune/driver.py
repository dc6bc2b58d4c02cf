"""The tuning loop: ask the sampler, evaluate the objective, tell the sampler, for ``budget`` rounds."""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from typing import Any

from tune.bayesian import BayesianOptions, BayesianSampler
from tune.parallel import Evaluator, evaluate
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
    workers: int = 1,
    executor: Executor | str | None = None,
    equivalent: Callable[[dict[str, Any]], Hashable] | None = None,
) -> Result:
    """Minimize ``objective`` over ``space`` with ``budget`` evaluations.

    The default sampler is the Bayesian one (seeded by ``seed``, configured by ``options``). A value that
    is NaN or infinite counts as infeasible, like ``Infeasible``; any other exception stops the run.
    ``callback`` sees each evaluation as it completes (the CLI drives its progress bar with it).

    With ``workers`` above 1, or an ``executor``, the sampler proposes ``workers`` distinct configurations at
    a time (``suggest_batch``: the Bayesian sampler's Kriging believer) and they are evaluated together on
    ``executor`` (``tune.parallel``): a local process pool by default (``objective`` must then pickle: a
    module-level function or an instance of a module-level class), ``"threads"``, ``"inline"``, a Dask
    scheduler's address, or any ``concurrent.futures.Executor`` (``distributed.Client(...).get_executor()``).
    There an evaluation that raises, or whose worker dies, is infeasible and the run goes on; the reason is kept
    in its ``Evaluation.error``, and a failure other than ``Infeasible`` is warned of (``RuntimeWarning``,
    once per distinct message). An objective that a process pool cannot pickle is a ``TypeError`` at once.

    ``equivalent`` maps a configuration to a key that configurations of one value share (a compiler setting
    that ignores some knobs makes the same program whatever they are): once one is evaluated, the Bayesian
    sampler proposes none of the others, instead of spending the budget on a plateau it already knows.
    """
    for name, count in (("budget", budget), ("workers", workers)):
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {count!r}")
        if count < 1:
            raise ValueError(f"{name} must be at least 1, got {count}")
    sampler = sampler if sampler is not None else BayesianSampler(space, seed, options, budget, equivalent)
    evaluator = Evaluator(executor, workers) if workers > 1 or executor is not None else None
    history: list[Evaluation] = []
    warned: set[str] = set()          # failures warned of, once each
    try:
        while len(history) < budget:
            if evaluator is None:          # one at a time, here: only Infeasible is infeasible
                batch = [sampler.suggest()]
                results = [evaluate(objective, batch[0], (Infeasible,), (Infeasible,))]
            else:
                k = min(workers, budget - len(history))
                batch = (sampler.suggest_batch(k) if hasattr(sampler, "suggest_batch")
                         else [sampler.suggest() for _ in range(k)])
                results = evaluator.evaluate(objective, batch, (Infeasible,))
            for config, outcome in zip(batch, results):
                if outcome.unexpected and outcome.error not in warned:
                    warned.add(outcome.error)
                    warnings.warn(f"tune: an evaluation failed ({outcome.error}) at {dict(config)}; in a batch a "
                                  f"failure counts as infeasible and the run goes on (the reason is kept in the "
                                  f"evaluation's 'error')", RuntimeWarning, stacklevel=2)
                evaluation = Evaluation(dict(config), outcome.value, outcome.seconds, outcome.error)
                sampler.observe(config, outcome.value)
                history.append(evaluation)
                if callback is not None:
                    callback(evaluation)
    finally:
        if evaluator is not None:
            evaluator.close()
    return Result(tuple(history))
