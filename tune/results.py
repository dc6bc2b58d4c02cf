"""What a tuning run produced: every evaluation in order, the best one, and the CSV they are written to."""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Evaluation:
    """One call of the objective; ``value`` is None when the configuration was infeasible, and then ``error``
    says why when the objective raised (its exception's type and message) or its worker process died."""

    config: dict[str, Any]
    value: float | None
    seconds: float
    error: str | None = None

    @property
    def feasible(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Result:
    """All evaluations of a run; the best is the lowest feasible value (None if nothing was feasible)."""

    history: tuple[Evaluation, ...]

    @property
    def best(self) -> Evaluation | None:
        feasible = [e for e in self.history if e.feasible]
        return min(feasible, key=lambda e: e.value) if feasible else None

    @property
    def best_config(self) -> dict[str, Any] | None:
        return None if self.best is None else self.best.config

    @property
    def best_value(self) -> float | None:
        return None if self.best is None else self.best.value

    def write_csv(self, path: str | Path, names: Sequence[str]) -> None:
        """One row per evaluation: its index, each parameter, value (empty if infeasible), feasible, seconds,
        and why an infeasible one failed (empty if it did not raise)."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["index", *names, "value", "feasible", "seconds", "error"])
            for i, e in enumerate(self.history):
                params = [format_value(e.config[n]) for n in names]
                value = "" if e.value is None else repr(e.value)
                writer.writerow([i, *params, value, e.feasible, f"{e.seconds:.6f}", e.error or ""])


def format_value(value: Any) -> str:
    """Text for one parameter value; permutations (tuples) as JSON lists, so they read back unambiguously."""
    return json.dumps(list(value)) if isinstance(value, tuple) else str(value)
