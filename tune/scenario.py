"""JSON scenarios: a search space plus an external command that measures one configuration.

    {
      "command": ["python", "bench.py"],       # or one string, split like a shell would
      "input": "json",                         # configuration as JSON on stdin; "args": --name=value
      "parameters": [{"name": "tile", "type": "integer", "lo": 1, "hi": 64},
                     {"name": "order", "type": "permutation", "n": 3}],
      "constraints": ["tile % 4 == 0"],
      "budget": 40, "seed": 0, "surrogate": "gp", "initial": null,
      "timeout": 60, "output": "results.csv",
      "workers": 4, "executor": "threads"       # optional: 4 commands at a time, on threads (the default
    }                                           # for a scenario), "processes", or a Dask scheduler address

The command prints the objective (the last line of its output that is a number) and exits 0; a non-zero
exit, a timeout or an output with no number means the configuration is infeasible. A command that is not a
program is an error when the scenario is read. Relative paths are taken from the scenario file's folder, and
the command runs there.
"""
from __future__ import annotations

import enum
import functools
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune.bayesian import BayesianOptions
from tune.driver import Infeasible
from tune.params import Categorical, Integer, Ordinal, Param, ParamKind, Permutation, Real
from tune.results import format_value
from tune.space import Space
from tune.surrogate import SurrogateKind


class InputMode(enum.Enum):
    """How the command receives a configuration."""

    JSON = "json"
    ARGS = "args"


_PARAM_TYPES = {
    ParamKind.REAL: Real,
    ParamKind.INTEGER: Integer,
    ParamKind.ORDINAL: Ordinal,
    ParamKind.CATEGORICAL: Categorical,
    ParamKind.PERMUTATION: Permutation,
}
_KEYS = {"command", "input", "parameters", "constraints", "budget", "seed", "surrogate", "initial", "timeout", "output",
         "workers", "executor"}


@dataclass(frozen=True)
class Scenario:
    space: Space
    command: tuple[str, ...]
    input: InputMode
    budget: int
    seed: int
    options: BayesianOptions
    timeout: float | None
    output: Path
    folder: Path
    workers: int = 1
    executor: str = "threads"         # each evaluation is a subprocess: threads run them side by side

    def objective(self) -> Callable[[dict[str, Any]], float]:
        return functools.partial(run_command, self)          # pickles, for a process pool or Dask


def parse_param(spec: Mapping[str, Any]) -> Param:
    name = spec.get("name", "?")
    try:
        kind = ParamKind(spec["type"])
    except (KeyError, ValueError):
        kinds = [k.value for k in ParamKind]
        raise ValueError(f"parameter {name!r}: 'type' must be one of {kinds}, got {spec.get('type')!r}") from None
    fields = {k: v for k, v in spec.items() if k != "type"}
    try:
        return _PARAM_TYPES[kind](**fields)
    except TypeError as err:
        raise ValueError(f"parameter {name!r}: bad fields for a {kind.value} parameter: {err}") from None


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    data = json.loads(path.read_text())
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown scenario keys {unknown}; known: {sorted(_KEYS)}")
    if "command" not in data or "parameters" not in data:
        raise ValueError(f"{path}: a scenario needs 'command' and 'parameters'")
    command = tuple(shlex.split(data["command"]) if isinstance(data["command"], str) else data["command"])
    folder = path.resolve().parent
    program = command[0] if command else ""
    if not ((folder / program).is_file() if os.sep in program else shutil.which(program)):
        raise ValueError(f"{path}: command {program!r} is not a program found on PATH (or, as a path, from "
                         f"{folder})")
    return Scenario(
        space=Space([parse_param(p) for p in data["parameters"]], data.get("constraints", [])),
        command=command,
        input=InputMode(data.get("input", InputMode.JSON.value)),
        budget=int(data.get("budget", 40)),
        seed=int(data.get("seed", 0)),
        options=BayesianOptions(surrogate=SurrogateKind(data.get("surrogate", "gp")), initial=data.get("initial")),
        timeout=data.get("timeout"),
        output=folder / data.get("output", path.stem + ".csv"),
        folder=folder,
        workers=int(data.get("workers", 1)),
        executor=str(data.get("executor", "threads")),
    )


def run_command(scenario: Scenario, config: Mapping[str, Any]) -> float:
    """Run the scenario's command on one configuration and read the number it prints."""
    args = list(scenario.command)
    stdin = None
    if scenario.input is InputMode.ARGS:
        args += [f"--{name}={format_value(value)}" for name, value in config.items()]
    else:
        stdin = json.dumps(config)
    try:
        done = subprocess.run(
            args, input=stdin, capture_output=True, text=True, cwd=scenario.folder, timeout=scenario.timeout
        )
    except subprocess.TimeoutExpired:
        raise Infeasible(f"timed out after {scenario.timeout} s") from None
    if done.returncode != 0:
        raise Infeasible(f"exit status {done.returncode}: {done.stderr.strip()[-200:]}")
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            return float(line.strip())
        except ValueError:
            continue
    raise Infeasible(f"command {' '.join(args)!r} printed no number; its output was {done.stdout[-200:]!r}")
