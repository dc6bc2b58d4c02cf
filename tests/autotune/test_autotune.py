"""torch_ember.autotune: knob tuning returns options that reproduce their modeled time; hardware mode never
runs a device over its area budget and learns devices that cannot hold the program as infeasible."""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping

import numpy as np
import pytest
import torch
import torch.nn as nn

import dae_emulator
import tune
from torch_ember import HardwareBudget, autotune
from torch_ember.autotune import AreaModel, Objective, measure

pytestmark = pytest.mark.slow


def bag_and_inputs():
    torch.manual_seed(0)
    model = nn.EmbeddingBag(64, 32, mode="sum")
    g = torch.Generator().manual_seed(0)
    return model, ((torch.rand(32, generator=g) ** 3 * 64).long(), torch.arange(8) * 4)


def test_measure_runs_forward_and_backward_without_touching_grad():
    model, inputs = bag_and_inputs()
    total = measure(model, inputs, {"device": "edge"})
    assert model.weight.grad is None
    assert total.launches == 2 and total.modeled_seconds > 0     # the bag and its backward


def test_knob_tuning_returns_options_that_reproduce_their_time_and_beat_the_start():
    model, inputs = bag_and_inputs()
    start = {"device": "edge", "opt_level": 1, "unroll": 1}
    tuned = autotune(model, inputs, budget=6, options=start)
    assert len(tuned.result.history) == 6
    assert tuned.modeled_seconds <= tuned.start_seconds
    assert tuned.options["device"] == "edge"
    assert measure(model, inputs, tuned.options).modeled_seconds == tuned.modeled_seconds


def test_the_tuned_result_is_what_torch_compile_options_takes():
    """As the README says to use it: ``torch.compile(model, backend="ember", options=autotune(...))``."""
    model, inputs = bag_and_inputs()
    tuned = autotune(model, inputs, budget=3, options={"device": "edge"})
    assert isinstance(tuned, Mapping) and tuned["device"] == "edge" and tuned.modeled_seconds > 0
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="ember", options=tuned)
    torch.testing.assert_close(compiled(*inputs), model(*inputs))
    assert len(tuned.result.history) == 3 and dict(tuned) == tuned.options


def test_hardware_mode_stays_under_the_area_budget_and_learns_unfit_devices_as_infeasible():
    model, inputs = bag_and_inputs()
    area = AreaModel()
    budget = HardwareBudget(area_mm2=0.5 * area.mm2(dae_emulator.preset("server")))
    objective = Objective(model, inputs, {"device": "server"}, budget)
    assert objective.conditions == {}            # every device parameter always matters
    sampler = tune.RandomSampler(objective.space, seed=3)
    tuned = autotune(model, inputs, budget=6, options={"device": "server"}, hardware=budget, sampler=sampler)
    for e in tuned.result.history:
        assert area.mm2(objective.options(e.config)["device"]) <= budget.area_mm2
        if e.config["queues"] < 2 or e.config["traversal_units"] < 2:    # a bag needs two of each
            assert not e.feasible
    assert tuned.start_seconds is None           # the server itself is over this budget
    assert area.mm2(tuned.options["device"]) <= budget.area_mm2


def test_an_energy_budget_nothing_meets_is_an_error():
    model, inputs = bag_and_inputs()
    with pytest.raises(ValueError, match="feasible"):
        autotune(model, inputs, budget=2, options={"device": "edge"}, hardware=HardwareBudget(energy_joules=1e-15))


def test_the_area_constraint_is_the_area_model():
    """The expression the tuner checks and the Python model agree on either side of a budget."""
    base, area = dae_emulator.preset("server"), AreaModel()
    objective = Objective(*bag_and_inputs(), {"device": "server"}, HardwareBudget(area_mm2=1e9))
    text = area.expression(base)
    for config in objective.space.sample(np.random.default_rng(0), 50):
        mm2 = area.mm2(objective.options(config)["device"])
        for limit, holds in ((mm2 * 1.001, True), (mm2 * 0.999, False)):
            assert tune.Space(objective.space.params, [f"{text} <= {limit!r}"]).constraints[0].holds(config) is holds
    assert area.mm2(dataclasses.replace(base, cores=2 * base.cores)) > area.mm2(base)


class UnevenTables(nn.Module):
    """Two bag tables, one pooling 24 rows a bag and one pooling 1: batched, one block per core puts the long
    bags on the first cores."""

    def __init__(self):
        super().__init__()
        self.long, self.short = nn.EmbeddingBag(500, 16, mode="sum"), nn.EmbeddingBag(500, 16, mode="sum")

    def forward(self, i_long, o_long, i_short, o_short):
        return self.long(i_long, o_long) + self.short(i_short, o_short)


def uneven_inputs(batch=32):
    g = torch.Generator().manual_seed(1)
    return (torch.randint(0, 500, (24 * batch,), generator=g), torch.arange(batch) * 24,
            torch.randint(0, 500, (batch,), generator=g), torch.arange(batch))


def test_the_tile_knob_is_searched_where_cores_split_work_and_changes_only_the_time():
    torch.manual_seed(0)
    model, inputs = UnevenTables().requires_grad_(False), uneven_inputs()      # forward only: the batched bags
    assert "tile" not in Objective(model, inputs, {"device": "edge"}).space.names          # one core
    assert "tile" in Objective(model, inputs, {"device": "server"}).space.names
    device = dataclasses.replace(dae_emulator.preset("server"), name="server4", cores=4)
    want = model(*inputs)
    seconds = {}
    for tile in (None, 1, 64):
        torch._dynamo.reset()
        compiled = torch.compile(model, backend="ember", options={"device": device, "tile": tile, "rest": "eager"})
        torch.testing.assert_close(compiled(*inputs), want)
        seconds[tile] = measure(model, inputs, {"device": device, "tile": tile}).modeled_seconds
    assert seconds[1] < 0.7 * seconds[None]     # the long bags spread over the four cores
    assert seconds[64] > seconds[1]             # 64 bags a tile: one core holds all the long ones


def test_configurations_differing_only_in_knobs_their_level_ignores_are_measured_once():
    objective = Objective(*bag_and_inputs(), {"device": "edge"})
    level1 = {"opt_level": 1, "vector_width": 4, "unroll": 2, "buffer_bytes": 64}
    first = objective(level1)
    assert objective({**level1, "unroll": 16, "buffer_bytes": 1024}) == first and len(objective.cache) == 1
    objective({**level1, "vector_width": 8})
    assert len(objective.cache) == 2


def test_per_region_tuning_gives_every_region_its_own_knobs_under_their_constraints():
    torch.manual_seed(0)
    model, inputs = UnevenTables(), uneven_inputs(8)
    start = {"device": "edge", "opt_level": 2, "vector_width": 1}
    objective = Objective(model, inputs, start, per_region=True)
    # two forward bags and their two backward scatters, four knobs less the tile (one core) each, one level
    assert len(objective.regions) == 4 and len(objective.space.names) == 1 + 4 * 3
    assert sum("buffer_bytes %" in c.text for c in objective.space.constraints) == 4
    # the modeled time adds up over regions: the search models one part per region, its knobs and the level
    assert len(objective.groups) == 4 and all(g[0] == "opt_level" and len(g) == 4 for g in objective.groups)
    assert sorted(n for g in objective.groups for n in g[1:]) == sorted(objective.space.names[1:])
    tuned = autotune(model, inputs, budget=8, options=start, per_region=True, sampler=tune.RandomSampler(
        objective.space, seed=0))
    assert tuned.modeled_seconds < tuned.start_seconds
    region_knobs = tuned.options["region_knobs"]
    assert set(region_knobs) == set(objective.regions) and tuned.options["device"] == "edge"
    for knobs in region_knobs.values():
        assert knobs["buffer_bytes"] % (4 * knobs["vector_width"]) == 0
    assert measure(model, inputs, tuned.options).modeled_seconds == tuned.modeled_seconds
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(model, backend="ember", options=tuned)(*inputs), model(*inputs))


def test_per_region_configurations_differing_only_in_ignored_knobs_are_measured_once():
    objective = Objective(*bag_and_inputs(), {"device": "edge"}, per_region=True)
    config = objective.space.design(1, seed=0)[0] | {"opt_level": 1}
    unroll = next(n for n in objective.space.names if n.endswith("__unroll"))
    objective(config)
    objective({**config, unroll: 64 if config[unroll] != 64 else 1})     # level 1 does not unroll
    assert len(objective.cache) == 1
    # the same facts as conditions, for tuners that take conditional parameters
    width, pieces = (next(n for n in objective.space.names if n.endswith(k)) for k in ("__vector_width",
                                                                                          "__buffer_bytes"))
    assert objective.conditions[unroll] == ("opt_level", (3,))
    assert objective.conditions[pieces] == ("opt_level", (2, 3))
    assert objective.conditions[width] == ("opt_level", (1, 2, 3))
    assert set(objective.conditions) == set(objective.space.names) - {"opt_level"}


def test_autotune_measures_batches_in_worker_processes_and_refuses_threads():
    model, inputs = bag_and_inputs()
    start = {"device": "edge", "opt_level": 1, "unroll": 1}
    tuned = autotune(model, inputs, budget=4, options=start, workers=2)
    assert len(tuned.result.history) == 4 and all(e.feasible for e in tuned.result.history)
    for e in tuned.result.history:       # a worker's measurement is the one made here
        assert e.value == measure(model, inputs, {**start, **e.config}).modeled_seconds
    with pytest.raises(ValueError, match="not thread-safe"):
        autotune(model, inputs, budget=2, options=start, workers=2, executor="threads")


def test_the_measurer_traces_once_and_measures_each_options_as_a_fresh_compile_does(monkeypatch):
    autotune_module = importlib.import_module("torch_ember.autotune")    # torch_ember.autotune: the function
    traced = []
    backend = autotune_module.relowering_backend

    def counting(*args):
        inner = backend(*args)
        return lambda gm, example_inputs: traced.append(gm) or inner(gm, example_inputs)
    monkeypatch.setattr(autotune_module, "relowering_backend", counting)
    model, inputs = bag_and_inputs()
    measurer = autotune_module.Measurer(model, inputs)
    configs = [{"device": "edge", "opt_level": 3, "unroll": 2}, {"device": "edge", "opt_level": 1},
               {"device": "server", "opt_level": 3, "vector_width": 4}]
    seconds = [measurer(c).modeled_seconds for c in configs + configs[:1]]
    assert len(traced) == 1
    assert seconds[3] == seconds[0] and len(set(seconds[:3])) == 3
    assert seconds[:3] == [measure(model, inputs, c).modeled_seconds for c in configs]


def test_per_region_objective_lists_explains_regions_from_the_trace_it_measures_with():
    """The regions are read off the measurer's own lowering (Dynamo traces the model once, forward and
    backward, for the listing and every measurement), and they are the ones ``explain`` lists, batched
    regions by their parts."""
    from torch._dynamo.utils import counters
    from torch_ember import explain
    torch.manual_seed(0)
    model, inputs = UnevenTables(), uneven_inputs(8)
    for start in ({"device": "edge", "opt_level": 2}, {"device": "server", "opt_level": 3}):
        counters.clear()
        objective = Objective(model, inputs, start, per_region=True)
        for config in objective.space.design(2, seed=0):
            objective(config)
        assert counters["stats"]["unique_graphs"] == 1
        torch._dynamo.reset()
        assert tuple(objective.regions) == explain(model, *inputs, options=start, verbose=False).region_keys
        assert len(objective.regions) == 4
