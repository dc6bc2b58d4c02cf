"""``tune.minimize(..., workers=k, executor=...)``: batches of distinct configurations that respect the known
constraints, evaluated on a process pool, on a real Dask cluster, on threads or inline, with the same result
for a deterministic batch policy whatever the executor, and failing or crashing evaluations recorded as
infeasible without losing the rest of their batch."""
import concurrent.futures
import os
import sys
import warnings

import cloudpickle
import distributed
import numpy as np
import pytest

import tune

cloudpickle.register_pickle_by_value(sys.modules[__name__])     # Dask workers do not import the tests


def _space():
    return tune.Space([tune.Integer("tile", 1, 32), tune.Ordinal("unroll", [1, 2, 4, 8]),
                       tune.Categorical("mode", ["a", "b"]), tune.Real("x", -1.0, 1.0)],
                      constraints=["tile * unroll <= 64"])


def objective(config):
    """Deterministic, so every executor must give the same run."""
    penalty = 0.0 if config["mode"] == "b" else 0.5
    return (config["tile"] - 12) ** 2 / 100 + (config["unroll"] - 4) ** 2 / 10 + config["x"] ** 2 + penalty


def failing_objective(config):
    if config["tile"] > 24:
        raise RuntimeError("this tile does not compile")
    return objective(config)


def crashing_objective(config):
    if config["tile"] > 24:
        os._exit(3)                      # the worker process dies, as a segfaulting kernel would
    return objective(config)


def test_batches_hold_no_duplicates_and_respect_the_known_constraints():
    space = _space()
    for sampler in (tune.BayesianSampler(space, seed=0), tune.RandomSampler(space, seed=0)):
        rng = np.random.default_rng(0)
        for _ in range(6):
            batch = sampler.suggest_batch(4)
            assert len({space.key(c) for c in batch}) == 4
            assert all(c["tile"] * c["unroll"] <= 64 for c in batch)
            for c in batch:
                sampler.observe(c, float(rng.random()))


def test_a_batch_starts_with_the_sequential_proposal_and_leaves_the_history_alone():
    """The Kriging believer: the first of a batch is what ``suggest`` would propose; the rest are chosen on a
    surrogate that believes the earlier ones, which the sampler's own history never records."""
    space = _space()
    batched, single = tune.BayesianSampler(space, seed=0), tune.BayesianSampler(space, seed=0)
    for sampler in (batched, single):
        for c in sampler.suggest_batch(8):
            sampler.observe(c, objective(c))
    before = (list(batched.configs), list(batched.values), set(batched.seen))
    batch = batched.suggest_batch(4)
    assert batch[0] == single.suggest()
    assert (batched.configs, batched.values, batched.seen) == before


def test_a_process_pool_gives_the_inline_run_and_finds_the_optimum_region():
    space = _space()
    inline = tune.minimize(objective, space, 24, seed=3, workers=4, executor="inline")
    pooled = tune.minimize(objective, space, 24, seed=3, workers=4)          # a local process pool
    assert [e.config for e in pooled.history] == [e.config for e in inline.history]
    assert [e.value for e in pooled.history] == [e.value for e in inline.history]
    assert inline.best_value < 0.3
    threads = tune.minimize(objective, space, 12, seed=3, workers=4, executor="threads")
    assert [e.config for e in threads.history] == [e.config for e in inline.history[:12]]
    spawned = tune.minimize(objective, space, 8, seed=3, workers=4, executor="spawn")    # workers started fresh
    assert [e.value for e in spawned.history] == [e.value for e in inline.history[:8]]


def test_a_failing_evaluation_is_infeasible_and_the_rest_of_its_batch_is_kept():
    """... with its reason kept, and a failure that is not ``tune.Infeasible`` (a bug, probably) warned of once:
    in a batch every evaluation of a buggy objective was silently infeasible."""
    with pytest.warns(RuntimeWarning, match="RuntimeError: this tile does not compile") as caught:
        result = tune.minimize(failing_objective, _space(), 16, seed=0, workers=4, executor="inline")
    assert len(result.history) == 16 and len(caught) == 1
    assert all((e.value is None) == (e.config["tile"] > 24) for e in result.history)
    assert any(e.value is None for e in result.history) and result.best is not None
    assert {e.error for e in result.history} == {None, "RuntimeError: this tile does not compile"}

    def told_infeasible(config):
        if config["tile"] > 24:
            raise tune.Infeasible("too many registers")
        return objective(config)

    with warnings.catch_warnings():
        warnings.simplefilter("error")       # Infeasible is how an objective says so: no warning
        result = tune.minimize(told_infeasible, _space(), 8, seed=0, workers=4, executor="threads")
    assert {e.error for e in result.history if e.value is None} <= {"Infeasible: too many registers"}
    sequential = tune.minimize(told_infeasible, _space(), 8, seed=0)
    assert {e.error for e in sequential.history if e.value is None} <= {"Infeasible: too many registers"}


def test_an_objective_a_process_pool_cannot_send_is_an_error_before_anything_runs():
    calls = []

    def local(config):                    # a local function does not pickle
        calls.append(config)
        return objective(config)

    for executor in (None, concurrent.futures.ProcessPoolExecutor(2)):
        with pytest.raises(TypeError, match="cannot be sent to worker processes .* at a module's top level"):
            tune.minimize(local, _space(), 6, seed=0, workers=2, executor=executor)
    assert tune.minimize(local, _space(), 4, seed=0, workers=2, executor="threads").best is not None


def test_a_users_process_pool_that_breaks_is_replaced_and_the_run_goes_on():
    """A worker of the user's own pool that dies broke the pool, and the next batch lost the whole run."""
    with concurrent.futures.ProcessPoolExecutor(2) as pool, pytest.warns(RuntimeWarning, match="worker process died"):
        result = tune.minimize(crashing_objective, _space(), 12, seed=0, workers=4, executor=pool)
    assert len(result.history) == 12
    crashed = [e for e in result.history if e.config["tile"] > 24]
    assert crashed and all(e.value is None for e in crashed)
    assert {e.error for e in crashed} == {"its worker process died"}
    later = result.history[-4:]          # batches after the break run on a pool of tune's own
    assert any(e.value is not None for e in later)


@pytest.mark.parametrize("executor", [None, "forkserver"])
def test_a_crashing_worker_loses_only_its_own_evaluation(executor):
    with pytest.warns(RuntimeWarning, match="its worker process died"):
        result = tune.minimize(crashing_objective, _space(), 12, seed=0, workers=4, executor=executor)
    assert len(result.history) == 12
    crashed = [e for e in result.history if e.config["tile"] > 24]
    assert crashed and all(e.value is None for e in crashed)
    assert all(e.value == pytest.approx(objective(e.config)) for e in result.history if e.config["tile"] <= 24)


def test_a_dask_cluster_gives_the_inline_run():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        space = _space()
        on_dask = tune.minimize(objective, space, 12, seed=5, workers=4, executor=client.get_executor())
        with pytest.warns(RuntimeWarning, match="this tile does not compile"):
            by_address = tune.minimize(failing_objective, space, 8, seed=5, workers=4,
                                       executor=cluster.scheduler_address)
    inline = tune.minimize(objective, space, 12, seed=5, workers=4, executor="inline")
    assert [e.config for e in on_dask.history] == [e.config for e in inline.history]
    assert [e.value for e in on_dask.history] == [e.value for e in inline.history]
    assert len(by_address.history) == 8
    assert all((e.value is None) == (e.config["tile"] > 24) for e in by_address.history)


def test_workers_below_one_and_unknown_executors_are_refused():
    with pytest.raises(ValueError, match="workers must be at least 1"):
        tune.minimize(objective, _space(), 4, workers=0)
    with pytest.raises(TypeError, match="budget must be an int, got 2.5"):      # it ran 3 evaluations
        tune.minimize(objective, _space(), 2.5)
    with pytest.raises(TypeError, match="workers must be an int"):
        tune.minimize(objective, _space(), 4, workers="2")
    with pytest.raises(ValueError, match="executor must be"):
        tune.minimize(objective, _space(), 4, workers=2, executor="gpu")
