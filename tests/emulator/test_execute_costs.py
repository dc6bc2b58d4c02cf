"""The execute side's costs a device can set: the callback dispatch (``callback_dispatch_cycles``), the cycles
of one operand pop (``queue_pop_cycles``) and how many scalar instructions issue a cycle
(``scalar_issue_width``). The presets keep the one-instruction-a-cycle core; a costlier dispatch or pop never
makes a program faster and a wider scalar issue never slower; they cost little where DRAM bandwidth binds and
in full where the execute side binds; and the fast model and the cycle-level reference agree on them."""
import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from dae_emulator.config import preset
from dae_emulator.reference import simulate
from dae_emulator.timing import estimate
from dae_emulator.validate import PROGRAMS


def _program(name):
    (program,) = [p for p in PROGRAMS if p.name == name]
    return program


def _with(config, dispatch):
    return dataclasses.replace(config, callback_dispatch_cycles=float(dispatch))


HARDWARE_SEQUENCED = ("server", "edge")      # presets whose execute unit sequences callbacks in hardware


def test_hardware_sequenced_presets_dispatch_nothing_and_a_negative_cost_is_refused():
    assert all(preset(name).callback_dispatch_cycles == 0 for name in HARDWARE_SEQUENCED)
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


POP_PROGRAMS = ["edge scalar pushes p8 d64", "server 2c scalar pushes hot p16 d32", "edge hot table p8 d64",
                "edge scatter m8 d64"]


def test_hardware_sequenced_presets_pop_in_one_cycle_and_issue_one_scalar_instruction_a_cycle():
    for name in HARDWARE_SEQUENCED:
        assert (preset(name).queue_pop_cycles, preset(name).scalar_issue_width) == (1.0, 1.0)
    for field in ("queue_pop_cycles", "scalar_issue_width"):
        with pytest.raises(ValueError, match=f"{field} must be positive"):
            dataclasses.replace(preset("edge"), **{field: 0.0})


@settings(max_examples=8, deadline=None)
@given(name=st.sampled_from(POP_PROGRAMS), costs=st.lists(st.sampled_from([1.0, 1.5, 2.0, 4.0, 8.0]), min_size=2,
                                                           max_size=4, unique=True))
def test_a_costlier_pop_never_makes_a_program_faster(name, costs):
    program = _program(name)
    trace = program.trace()
    cycles = [estimate(trace, dataclasses.replace(program.config, queue_pop_cycles=c)).cycles for c in sorted(costs)]
    assert cycles == sorted(cycles)


@settings(max_examples=8, deadline=None)
@given(name=st.sampled_from(POP_PROGRAMS), widths=st.lists(st.sampled_from([1.0, 2.0, 3.0, 4.0]), min_size=2,
                                                            max_size=4, unique=True))
def test_a_wider_scalar_issue_never_makes_a_program_slower(name, widths):
    program = _program(name)
    trace = program.trace()
    cycles = [estimate(trace, dataclasses.replace(program.config, scalar_issue_width=w)).cycles
              for w in sorted(widths)]
    assert cycles == sorted(cycles, reverse=True)


def test_pop_cost_counts_in_full_where_the_execute_side_binds_and_little_where_the_bus_does():
    compute = _program("edge scalar pushes p8 d64")        # 64 pops a row: the one core's callbacks bind
    trace = compute.trace()
    pops = sum(record.event.numel() * (record.queue_entries - 1) for record in trace.tokens)
    base, costly = (estimate(trace, dataclasses.replace(compute.config, queue_pop_cycles=c)).cycles for c in (1, 5))
    assert costly - base == pytest.approx(4 * pops, rel=0.05)
    bandwidth = _program("server 8c 32GB/s p8 d64")
    trace = bandwidth.trace()
    base, costly = (estimate(trace, dataclasses.replace(bandwidth.config, queue_pop_cycles=c)).cycles for c in (1, 3))
    assert costly <= 1.01 * base


@pytest.mark.parametrize("name", ["edge hot table p8 d64", "edge scalar pushes p8 d64"])
def test_the_fast_model_and_the_reference_agree_on_pop_cost_and_scalar_width(name):
    program = _program(name)
    config = dataclasses.replace(program.config, queue_pop_cycles=3.0, scalar_issue_width=2.0)
    trace = program.trace()
    reference = simulate(trace, config).cycles
    assert abs(estimate(trace, config).cycles - reference) <= 0.10 * reference


def test_the_tmu_preset_is_an_out_of_order_core_running_callbacks_in_software():
    tmu, server = preset("tmu"), preset("server")
    assert tmu.out_of_order_execute and not server.out_of_order_execute
    assert tmu.callback_dispatch_cycles > 0                 # callbacks are software: a dispatch costs cycles
    assert tmu.scalar_issue_width > 1                        # scalar arithmetic issues to several pipes
    assert tmu.vector_bytes == 64                            # the artifact's vector<8xf64>
    assert tmu.cores == 1
    assert tmu.dram_bandwidth_gbs <= server.dram_bandwidth_gbs / server.cores * 1.0   # a core's share of a socket
    assert tmu.cache_bytes <= server.cache_bytes and tmu.cache_latency_cycles < server.cache_latency_cycles
    # its requests in flight cover its share of the bus (Little's law), so its cold lookups are bandwidth bound
    lines_in_flight_needed = tmu.dram_bandwidth_gbs * tmu.dram_latency_ns / tmu.line_bytes
    assert tmu.max_outstanding >= lines_in_flight_needed


def test_an_out_of_order_execute_unit_never_makes_a_program_slower_and_the_two_models_agree_on_it():
    for name in ("edge scatter m8 d64", "server 4c scatter prefetched m4 d64", "edge hot table p8 d64"):
        program = _program(name)
        trace = program.trace()
        in_order, out_of_order = (dataclasses.replace(program.config, out_of_order_execute=flag) for flag in (False, True))
        assert estimate(trace, out_of_order).cycles <= estimate(trace, in_order).cycles
        reference = simulate(trace, out_of_order).cycles
        assert abs(estimate(trace, out_of_order).cycles - reference) <= 0.10 * reference
    with pytest.raises(ValueError, match="out_of_order_execute must be True or False"):
        dataclasses.replace(preset("edge"), out_of_order_execute=1)
