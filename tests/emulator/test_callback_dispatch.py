"""The device's callback dispatch cost (``DeviceConfig.callback_dispatch_cycles``): zero leaves every preset's
results as they were, more of it never makes a program faster, it costs little where DRAM bandwidth binds
and in full where the execute side binds, and the fast model and the cycle-level reference agree on it."""
import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from dae_emulator.config import PRESETS, preset
from dae_emulator.reference import simulate
from dae_emulator.timing import estimate
from dae_emulator.validate import PROGRAMS


def _program(name):
    (program,) = [p for p in PROGRAMS if p.name == name]
    return program


def _with(config, dispatch):
    return dataclasses.replace(config, callback_dispatch_cycles=float(dispatch))


def test_the_presets_dispatch_nothing_and_a_negative_cost_is_refused():
    assert all(config.callback_dispatch_cycles == 0 for config in PRESETS.values())
    with pytest.raises(ValueError, match="callback_dispatch_cycles must be zero or positive"):
        _with(preset("edge"), -1)


@settings(max_examples=8, deadline=None)
@given(name=st.sampled_from(["edge hot table p8 d64", "edge scatter m8 d64", "server 4c uneven p8 d64",
                             "edge scalar pushes p8 d64"]),
       costs=st.lists(st.integers(0, 24), min_size=2, max_size=4, unique=True))
def test_more_dispatch_cost_never_makes_a_program_faster(name, costs):
    program = _program(name)
    trace = program.trace()
    cycles = [estimate(trace, _with(program.config, cost)).cycles for cost in sorted(costs)]
    assert cycles == sorted(cycles)


def test_it_costs_little_where_bandwidth_binds_and_in_full_where_the_execute_side_binds():
    bandwidth = _program("server 8c 32GB/s p8 d64")      # 32 GB/s for 8 cores: the bus binds
    trace = bandwidth.trace()
    base, costly = (estimate(trace, _with(bandwidth.config, d)).cycles for d in (0, 16))
    assert costly <= 1.01 * base
    compute = _program("edge hot table p8 d64")           # every row hits: the one core's callbacks bind
    trace = compute.trace()
    tokens = sum(record.event.numel() for record in trace.tokens)
    base, costly = (estimate(trace, _with(compute.config, d)).cycles for d in (0, 16))
    assert costly - base == pytest.approx(16 * tokens, rel=0.05)


@pytest.mark.parametrize("name", ["edge hot table p8 d64", "edge scatter m8 d64"])
def test_the_fast_model_and_the_reference_agree_with_a_dispatch_cost(name):
    program = _program(name)
    trace, config = program.trace(), _with(program.config, 8)
    reference = simulate(trace, config).cycles
    assert abs(estimate(trace, config).cycles - reference) <= 0.10 * reference
