"""The interconnect model by the relations its physics demands, not by the numbers it prints."""
import dataclasses
import json

import numpy as np
import pytest

import dae_emulator
from dae_emulator.config import DeviceConfig, Topology
from dae_emulator.interconnect import all_to_all_cost

SERVER = dae_emulator.preset("server")


def on(topology):
    return dataclasses.replace(SERVER, topology=topology)


def uniform(n, nbytes):
    return np.full((n, n), float(nbytes))


def test_traffic_that_stays_on_its_device_is_free():
    assert all_to_all_cost(np.diag([1e9] * 4), SERVER).seconds == 0.0


@pytest.mark.parametrize("topology", list(Topology))
def test_large_exchanges_are_bandwidth_bound_and_small_ones_latency_bound(topology):
    big, bigger = (all_to_all_cost(uniform(8, b), on(topology)).seconds for b in (1e8, 2e8))
    assert bigger / big == pytest.approx(2.0, rel=1e-3)
    tiny = all_to_all_cost(uniform(8, 1), on(topology))
    assert tiny.seconds == pytest.approx(tiny.hops * SERVER.link_latency_us * 1e-6, rel=1e-3)


def test_more_links_per_device_move_the_same_bytes_faster():
    times = {t: all_to_all_cost(uniform(8, 1e8), on(t)).seconds for t in Topology}
    assert times[Topology.FULLY_CONNECTED] < times[Topology.SWITCH]
    assert times[Topology.FULLY_CONNECTED] < times[Topology.RING]


def test_the_busiest_link_sets_the_time():
    matrix = np.zeros((4, 4))
    matrix[0, 1:] = 1e8    # device 0 sends to everyone through its one switch link
    cost = all_to_all_cost(matrix, SERVER)
    assert cost.bytes_sent == (int(3e8), 0, 0, 0) and cost.busiest_link_bytes == int(3e8)
    assert cost.seconds == pytest.approx(3e8 / (SERVER.link_bandwidth_gbs * 1e9), rel=1e-3)


def test_topology_round_trips_through_json_and_rejects_unknown_names():
    text = json.dumps(dataclasses.asdict(on(Topology.RING)))
    assert DeviceConfig(**json.loads(text)).topology is Topology.RING
    with pytest.raises(ValueError, match="topology must be one of"):
        dataclasses.replace(SERVER, topology="hypercube")
