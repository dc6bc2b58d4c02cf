"""benchmarks/tune_peers.py gives each peer tuner the objective's answers as ``tune.minimize`` would count them,
whatever the peer proposes."""
import math
import sys
import types

import benchmark_script          # tests/benchmarks/benchmark_script.py
import tune


def _load():
    return benchmark_script.load("tune_peers")


SPACE = tune.Space([tune.Integer("ty", 1, 64), tune.Categorical("layout", ("row", "col"))], ["ty <= 48"])


def tile_time(config):
    if config["ty"] > 40:
        raise tune.Infeasible("register spill")
    return 100 / config["ty"] + (config["layout"] == "row")     # ty = 0 would be infinite


def test_infinite_and_infeasible_values_are_infeasible():
    peers = _load()
    assert peers._measured(SPACE, tile_time, {"ty": 4, "layout": "col"}) == 25.0
    assert peers._measured(SPACE, tile_time, {"ty": 44, "layout": "col"}) is None      # raised Infeasible
    assert peers._measured(SPACE, tile_time, {"ty": 50, "layout": "col"}) is None      # breaks "ty <= 48"
    assert peers._measured(SPACE, lambda c: math.inf, {"ty": 4, "layout": "col"}) is None


def test_hypermapper_proposals_outside_their_range_are_infeasible_and_not_measured(monkeypatch):
    """HyperMapper 2.2.13's local search proposed ``ty=0`` for ``[1, 64]`` and ``layout=2`` for ``[0, 1]``;
    measured, the first was an infinite time that stopped its run, the second an IndexError. Here a stand-in
    for HyperMapper's loop makes such proposals, and the runner must answer them as it answers a known-
    constraint violation."""
    peers = _load()
    answers = []
    proposals = [{"ty": 0, "layout": 0}, {"ty": 8, "layout": 2}, {"ty": 50, "layout": 0},
                 {"ty": 44, "layout": 1}, {"ty": 4, "layout": 1}, {"ty": 10, "layout": 0}]

    def optimize(scenario, black_box):
        for x in proposals:
            answers.append(black_box(x))

    optimizer = types.SimpleNamespace(optimize=optimize)
    monkeypatch.setitem(sys.modules, "hypermapper", types.SimpleNamespace(optimizer=optimizer))
    values = []
    peers._hypermapper(SPACE, tile_time, 3, seed=0, values=values)     # ends when the budget is spent
    assert values == [None, 25.0, 11.0]       # only ty=44 (it fails), ty=4 and ty=10 were measured
    assert [a["Valid"] for a in answers] == [False, False, False, False, True]
