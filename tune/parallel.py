"""Evaluating a batch of configurations on any ``concurrent.futures.Executor``.

``tune.minimize(..., workers=k)`` proposes ``k`` configurations at a time and evaluates them here: on a
local process pool by default (forked, or started fresh with ``"spawn"`` / ``"forkserver"``), on threads
(enough when each evaluation is a subprocess, as a scenario's command is), on a Dask cluster
(``distributed.Client(...).get_executor()``, or a scheduler's address), or inline (one after another in this
process: the same batches as any executor, for checking). An evaluation
that raises, or whose worker dies, is recorded as infeasible; the others of its batch are kept. When a
worker of the pool this module started dies, the batch's unfinished evaluations are run again one per
fresh process, so only the one that kills its process is lost.
"""
from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


def evaluate(objective: Objective, config: Mapping[str, Any],
             infeasible: tuple[type[Exception], ...] = (Exception,)) -> tuple[float | None, float]:
    """One evaluation where it runs: its value and its seconds. The value is None when the objective raised
    one of ``infeasible`` (in a batch, any failure) or returned NaN or an infinity."""
    start = time.perf_counter()
    try:
        value: float | None = float(objective(dict(config)))
    except infeasible:
        value = None
    if value is not None and not math.isfinite(value):
        value = None
    return value, time.perf_counter() - start


class Evaluator:
    """The executor a run evaluates on; closes what it opened."""

    def __init__(self, executor: Executor | str | None, workers: int) -> None:
        self.workers = workers
        self._client = None
        self._owned_pool = False
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

    def evaluate(self, objective: Objective, configs: Sequence[Mapping[str, Any]]) -> list[tuple[float | None, float]]:
        futures = [self.executor.submit(evaluate, objective, dict(c)) for c in configs]
        results: list[tuple[float | None, float] | None] = []
        for future in futures:
            try:
                results.append(future.result())
            except BrokenProcessPool:         # its worker died: rerun below, alone, where the pool is ours
                results.append(None if self._owned_pool else (None, 0.0))
            except Exception:
                results.append((None, 0.0))   # the executor lost it (a Dask worker killed): infeasible
        if any(r is None for r in results):
            self._restart()
            results = [r if r is not None else self._alone(objective, c) for r, c in zip(results, configs)]
        return results

    def _alone(self, objective: Objective, config: Mapping[str, Any]) -> tuple[float | None, float]:
        with self._pool(1) as pool:
            try:
                return pool.submit(evaluate, objective, dict(config)).result()
            except BrokenProcessPool:
                return None, 0.0

    def _restart(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._pool(self.workers)

    def close(self) -> None:
        if self._owned_pool or isinstance(self.executor, ThreadPoolExecutor):
            self.executor.shutdown(wait=True)
        if self._client is not None:
            self._client.close()
