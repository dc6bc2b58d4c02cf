"""The scenario CLI end to end: an external command as the objective, one CSV row per evaluation."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tune.__main__ import main
from tune.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]

JSON_COMMAND = """
    import json, sys
    config = json.load(sys.stdin)
    if config["tile"] > 48:
        sys.exit(3)  # an unknown constraint: the "kernel" does not fit
    print("measuring...")
    print((config["tile"] - 20) ** 2 / 100 + config["order"].index(0) + (config["layout"] == "col") + 1)
"""

ARGS_COMMAND = """
    import sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
    print(abs(float(args["rate"]) - 0.01) + int(args["unroll"]))
"""


def _scenario(folder: Path, script: str, **fields) -> Path:
    (folder / "objective.py").write_text(textwrap.dedent(script))
    data = {"command": [sys.executable, "objective.py"], "budget": 8, "seed": 3, "initial": 4, **fields}
    path = folder / "scenario.json"
    path.write_text(json.dumps(data))
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_python_m_tune_runs_a_scenario_and_writes_every_evaluation(tmp_path):
    parameters = [
        {"name": "tile", "type": "integer", "lo": 1, "hi": 64},
        {"name": "layout", "type": "categorical", "values": ["row", "col"]},
        {"name": "order", "type": "permutation", "n": 3},
    ]
    path = _scenario(tmp_path, JSON_COMMAND, parameters=parameters, constraints=["tile % 2 == 0"], output="out.csv")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "tune", str(path)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(tmp_path / "out.csv")
    assert len(rows) == 8
    assert list(rows[0]) == ["index", "tile", "layout", "order", "value", "feasible", "seconds", "error"]
    for row in rows:
        assert int(row["tile"]) % 2 == 0
        assert sorted(json.loads(row["order"])) == [0, 1, 2]
        assert (row["feasible"] == "True") == (int(row["tile"]) <= 48)
        assert (row["value"] == "") == (row["feasible"] == "False")
        assert row["error"] == ("" if row["value"] else "Infeasible: exit status 3: ")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    best = min(float(r["value"]) for r in rows if r["value"])
    assert summary["best_value"] == pytest.approx(best)
    assert summary["best_config"]["tile"] <= 48


def test_a_scenario_runs_its_commands_several_at_a_time(tmp_path, capsys):
    parameters = [
        {"name": "tile", "type": "integer", "lo": 1, "hi": 64},
        {"name": "layout", "type": "categorical", "values": ["row", "col"]},
        {"name": "order", "type": "permutation", "n": 3},
    ]
    path = _scenario(tmp_path, JSON_COMMAND, parameters=parameters, output="out.csv", workers=4)
    assert load_scenario(path).workers == 4 and load_scenario(path).executor == "threads"
    assert main([str(path), "--budget", "12"]) == 0
    rows = _rows(tmp_path / "out.csv")
    assert len(rows) == 12
    assert all((row["feasible"] == "True") == (int(row["tile"]) <= 48) for row in rows)
    keys = [(row["tile"], row["layout"], row["order"]) for row in rows]
    assert len(set(keys[:4])) == 4                      # the first batch of four holds no repeat


def test_args_input_and_the_plain_progress_counter_without_tqdm(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # importing tqdm now fails
    parameters = [
        {"name": "rate", "type": "real", "lo": 1e-4, "hi": 1.0, "log": True},
        {"name": "unroll", "type": "ordinal", "values": [1, 2, 4, 8]},
    ]
    path = _scenario(tmp_path, ARGS_COMMAND, parameters=parameters, input="args", surrogate="forest", budget=6)
    assert main([str(path), "--output", str(tmp_path / "args.csv")]) == 0
    rows = _rows(tmp_path / "args.csv")
    assert len(rows) == 6 and all(r["feasible"] == "True" for r in rows)
    assert "evaluation 6/6, best" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"parameters": [{"name": "tile", "type": "int", "lo": 1, "hi": 4}]}, "'tile'.*type"),
        ({"parameters": [{"name": "tile", "type": "integer", "lo": 1}]}, "'tile'.*bad fields"),
        ({"parameters": [], "budgett": 3}, "unknown scenario keys"),
        ({"parameters": [{"name": "t", "type": "integer", "lo": 1, "hi": 4}], "constraints": ["u < 2"]}, "'u'"),
        # a command that is no program: every evaluation would fail; it was a FileNotFoundError traceback
        ({"parameters": [], "command": ["no_such_program_xyz"]}, "'no_such_program_xyz' is not a program"),
        ({"parameters": [], "command": "./missing.sh --fast"}, "'./missing.sh' is not a program"),
    ],
)
def test_bad_scenarios_are_reported(tmp_path, fields, message):
    path = _scenario(tmp_path, ARGS_COMMAND, **fields)
    with pytest.raises(ValueError, match=message):
        load_scenario(path)


def test_a_command_that_prints_no_number_is_infeasible_and_the_run_goes_on(tmp_path, capsys):
    """It stopped a sequential run with a traceback and no CSV, while a batched run counted it infeasible."""
    script = """
        import json, sys
        config = json.load(sys.stdin)
        print("compile error" if config["tile"] > 3 else config["tile"])
    """
    path = _scenario(tmp_path, script, parameters=[{"name": "tile", "type": "integer", "lo": 1, "hi": 8}])
    assert main([str(path), "--budget", "6"]) == 0
    rows = _rows(tmp_path / "scenario.csv")
    assert len(rows) == 6
    assert all((r["value"] == "") == (int(r["tile"]) > 3) for r in rows), rows
    assert all("printed no number; its output was 'compile error" in r["error"] for r in rows if r["value"] == "")
