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



LEVELS = tune.Space([tune.Ordinal("level", (0, 1, 2)), tune.Ordinal("width", (1, 2, 4, 8, 16, 32, 64)),
                     tune.Ordinal("bytes", (64, 128, 256, 512, 1024)), tune.Ordinal("unroll", (1, 2, 4, 8, 16, 32))],
                    ["bytes % (4 * width) == 0"])
WHEN = {"width": ("level", (1, 2)), "bytes": ("level", (2,)), "unroll": ("level", (2,))}   # as Ember's knobs


def leveled_time(config):
    """Only the active knobs count: level 0 is flat, width matters from 1, bytes and unroll at 2."""
    time = 10.0 - 2 * config["level"]
    if config["level"] >= 1:
        time -= 1 / (1 + abs(config["width"] - 16))
    if config["level"] >= 2:
        time -= config["bytes"] / 1024 + 0.1 * config["unroll"]
    return time


def test_inactive_parameters_are_filled_with_values_that_keep_the_known_constraints():
    peers = _load()
    assert peers._filled(LEVELS, {"level": 0}) == {"level": 0, "width": 1, "bytes": 64, "unroll": 1}
    # width 64 needs bytes divisible by 256: the first such value, not the first value
    assert peers._filled(LEVELS, {"level": 1, "width": 64}) == {"level": 1, "width": 64, "bytes": 256, "unroll": 1}
    assert peers._filled(LEVELS, {"level": 2, "width": 4, "bytes": 1024, "unroll": 8})["bytes"] == 1024


def _recording(objective, seen):
    def recorded(config):
        seen.append(dict(config))
        return objective(config)
    return recorded


def test_smac_and_tpe_take_the_conditions_and_never_vary_an_inactive_parameter():
    """Told the conditions, SMAC and TPE propose an inactive knob only at its filled value: they search the
    conditional space, not the flat one. Without them (the control) the flat search varies it."""
    peers = _load()
    for run in (lambda f, c: peers.run_smac(LEVELS, f, 20, 0, c),
                lambda f, c: peers.run_optuna(LEVELS, f, 20, 0, "tpe", c)):
        told, flat = [], []
        values = run(_recording(leveled_time, told), WHEN)
        run(_recording(leveled_time, flat), None)
        assert len(values) == 20 and all(v is not None for v in values)
        assert all(LEVELS.is_feasible(c) for c in told)
        assert {(c["width"], c["bytes"], c["unroll"]) for c in told if c["level"] == 0} <= {(1, 64, 1)}
        assert {(c["bytes"], c["unroll"]) for c in told if c["level"] == 1} <= {(64, 1), (128, 1), (256, 1)}
        assert len({(c["width"], c["bytes"], c["unroll"]) for c in flat if c["level"] < 2}) > 3


def test_the_gp_sampler_gets_the_flat_space():
    """Optuna's GP sampler models only the parameters every trial has, so it is not given the conditions:
    its proposals vary knobs their level ignores."""
    peers = _load()
    seen = []
    peers.run_optuna(LEVELS, _recording(leveled_time, seen), 12, 0, "gp", WHEN)
    assert len({(c["bytes"], c["unroll"]) for c in seen if c["level"] < 2}) > 1


def test_a_filled_parameter_keeps_a_constraint_that_calls_a_function():
    """Before, a constraint was taken to read the functions it calls too, and was never checked in filling."""
    peers = _load()
    space = tune.Space([tune.Ordinal("level", (0, 1)), tune.Ordinal("width", (1, 64)),
                        tune.Ordinal("bytes", (64, 256))], ["max(bytes, 4 * width) == bytes"])
    assert peers._filled(space, {"level": 1, "width": 64}) == {"level": 1, "width": 64, "bytes": 256}
