"""Evaluating a batch of configurations on any ``concurrent.futures.Executor``.

``tune.minimize(..., workers=k)`` proposes ``k`` configurations at a time and evaluates them here: on a
local process pool by default (forked, or started fresh with ``"spawn"`` / ``"forkserver"``), on threads
(enough when each evaluation is a subprocess, as a scenario's command is), on a Dask cluster
(``distributed.Client(...).get_executor()``, or a scheduler's address), or inline (one after another in this
process: the same batches as any executor, for checking). An evaluation
that raises, or whose worker dies, is recorded as infeasible with the reason; the others of its batch are
kept. When a worker of the pool this module started dies, the batch's unfinished evaluations are run again
one per fresh process, so only the one that kills its process is lost; a process pool the user gave that
breaks so is replaced by one of this module's, started the same way. An objective that a process pool cannot
send to its workers is an error before anything runs, not a run of failures.
"""
from __future__ import annotations

import math
import multiprocessing
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

Objective = Callable[[dict[str, Any]], float]
# local process pools: "processes" starts workers the platform's default way (fork on Linux: quick, and a
# function of a script's __main__ pickles), "spawn" and "forkserver" start them fresh (needed where the
# parent's threads would not survive a fork, as torch's do; the objective must then be importable)
_START_METHODS = ("processes", "spawn", "forkserver")


class InlineExecutor(Executor):
    """Runs each submitted call at once, in this process: a batch evaluated in order."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:           # the future carries it, as a pool's would
            future.set_exception(err)
        return future


@dataclass(frozen=True)
class Outcome:
    """One evaluation's result: ``value`` None when infeasible, then ``error`` says why when it raised or its
    worker died; ``unexpected`` when that was not one of the exceptions that mark a configuration infeasible
    by design (``tune.Infeasible``), so probably a bug the user wants to hear of."""

    value: float | None
    seconds: float
    error: str | None = None
    unexpected: bool = False


WORKER_DIED = "its worker process died"


def evaluate(objective: Objective, config: Mapping[str, Any], infeasible: tuple[type[Exception], ...] = (Exception,),
             expected: tuple[type[Exception], ...] = ()) -> Outcome:
    """One evaluation where it runs. The value is None when the objective raised one of ``infeasible`` (in a
    batch, any failure) or returned NaN or an infinity; ``expected``: the exceptions that are no surprise."""
    start = time.perf_counter()
    try:
        value: float | None = float(objective(dict(config)))
    except infeasible as err:
        return Outcome(None, time.perf_counter() - start, f"{type(err).__name__}: {err}",
                       not isinstance(err, expected))
    if not math.isfinite(value):
        value = None
    return Outcome(value, time.perf_counter() - start)


class Evaluator:
    """The executor a run evaluates on; closes what it opened."""

    def __init__(self, executor: Executor | str | None, workers: int) -> None:
        self.workers = workers
        self._client = None
        self._owned_pool = False
        self._checked = False         # the objective pickles (checked once, for a process pool)
        self._context = None
        if isinstance(executor, Executor):
            self.executor = executor
        elif executor is None or executor in _START_METHODS:
            self._context = None if executor in (None, "processes") else multiprocessing.get_context(executor)
            self.executor, self._owned_pool = self._pool(workers), True
        elif executor == "threads":
            self.executor = ThreadPoolExecutor(workers)
        elif executor == "inline":
            self.executor = InlineExecutor()
        elif isinstance(executor, str) and "://" in executor:
            from distributed import Client      # only a Dask user needs it
            self._client = Client(executor)
            self.executor = self._client.get_executor()
        else:
            raise ValueError(f"executor must be a concurrent.futures.Executor, 'processes', 'spawn', 'forkserver', "
                             f"'threads', 'inline' or a Dask scheduler address such as 'tcp://host:8786'; "
                             f"got {executor!r}")

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=self._context)

    def evaluate(self, objective: Objective, configs: Sequence[Mapping[str, Any]],
                 expected: tuple[type[Exception], ...] = ()) -> list[Outcome]:
        if isinstance(self.executor, ProcessPoolExecutor) and not self._checked:
            _check_pickles(objective)
            self._checked = True
        futures = [self.executor.submit(evaluate, objective, dict(c), (Exception,), expected) for c in configs]
        results: list[Outcome | None] = []
        broken = False
        for future in futures:
            try:
                results.append(future.result())
            except BrokenProcessPool:         # its worker died: rerun below, alone, where the pool is ours
                broken = True
                results.append(None if self._owned_pool else Outcome(None, 0.0, WORKER_DIED, True))
            except Exception as err:          # the executor lost it (a Dask worker killed): infeasible
                results.append(Outcome(None, 0.0, f"the executor lost it: {type(err).__name__}: {err}", True))
        if broken:
            self._restart()
            results = [r if r is not None else self._alone(objective, c, expected) for r, c in zip(results, configs)]
        return results

    def _alone(self, objective: Objective, config: Mapping[str, Any],
               expected: tuple[type[Exception], ...]) -> Outcome:
        with self._pool(1) as pool:
            try:
                return pool.submit(evaluate, objective, dict(config), (Exception,), expected).result()
            except BrokenProcessPool:
                return Outcome(None, 0.0, WORKER_DIED, True)

    def _restart(self) -> None:
        """A new pool for a broken one: ours again, or, for the user's, one of ours started as theirs was."""
        if not self._owned_pool:
            self._context = getattr(self.executor, "_mp_context", None)
            self._owned_pool = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._pool(self.workers)

    def close(self) -> None:
        if self._owned_pool or isinstance(self.executor, ThreadPoolExecutor):
            self.executor.shutdown(wait=True)
        if self._client is not None:
            self._client.close()


def _check_pickles(objective: Objective) -> None:
    """A process pool sends the objective to its workers by pickling it; one that does not pickle would fail
    every evaluation in a worker, each as infeasible, and the run would find nothing without saying why."""
    try:
        pickle.dumps(objective)
    except Exception as err:      # noqa: BLE001 - pickling fails in many ways (PicklingError, AttributeError, ...)
        raise TypeError(f"the objective cannot be sent to worker processes ({type(err).__name__}: {err}); define "
                        f"it, and any class or function it uses, at a module's top level") from err
