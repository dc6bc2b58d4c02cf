"""benchmarks/tune_compare.py runs each peer on the space it is given, and a flat peer (not told the
conditions) is a run of its own only where the objective has conditions."""
import json
import sys

import benchmark_script          # tests/benchmarks/benchmark_script.py
import tune

sys.path.insert(0, str(benchmark_script.BENCHMARKS))     # tune_compare imports tune_peers beside it
compare = benchmark_script.load("tune_compare")

SPACE = tune.Space([tune.Ordinal("level", (0, 1)), tune.Ordinal("width", (1, 2, 4, 8))])


def _problem(conditions):
    return compare.Problem("tiny", SPACE, lambda c: 3.0 - c["level"] * c["width"] / 8, 1.0,
                           conditions=conditions)


def test_flat_peers_get_no_conditions_and_share_runs_where_there_are_none(monkeypatch, tmp_path):
    told = []
    monkeypatch.setattr(compare, "run_optuna",
                        lambda space, f, budget, seed, method, conditions: told.append(conditions) or [1.0] * budget)
    for case, conditions in enumerate(({}, {"width": ("level", (1,))})):
        monkeypatch.setitem(compare.PROBLEMS, "tiny", lambda c=conditions: _problem(c))
        cache = tmp_path / f"runs{case}.jsonl"
        told.clear()
        _, _, _, traces = compare.run_problem("tiny", 2, 5, ("tpe", "tpe flat"), str(cache))
        assert traces["tpe"] == traces["tpe flat"] == [[1.0] * 5] * 2
        methods = [json.loads(line)["method"] for line in cache.read_text().splitlines()]
        if conditions:       # two runs per seed: one told the conditions, one not
            assert told == [conditions, conditions, {}, {}] and methods == ["tpe"] * 2 + ["tpe flat"] * 2
        else:                # the flat peer is the peer: its runs are the peer's
            assert told == [{}, {}] and methods == ["tpe"] * 2
