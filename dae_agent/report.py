"""The JSONL attempt log and the results table.

Cycles columns: the fastest verified program's modeled cycles, the expert program's, and the compiler's where
a caller supplies them (``dae_agent`` may not import ``torch_ember``; ``benchmarks/agent_compare.py`` does).
Cells with nothing measured stay '-', never estimated.
"""
from __future__ import annotations

import enum
import json
from dataclasses import fields
from pathlib import Path

from .agent import AgentResult, Attempt
from .tasks import TASKS
from .verifier import modeled_cycles


def attempt_row(attempt: Attempt) -> dict:
    """An attempt as JSON values: a row of the log."""
    row = {f.name: getattr(attempt, f.name) for f in fields(attempt) if f.name != "cost"}
    return {k: v.value if isinstance(v, enum.Enum) else v for k, v in row.items()}


# what a replay of a recorded run must reproduce of each attempt (not its timing)
OUTCOME_FIELDS = ("task", "round", "kind", "sample", "repair", "temperature", "seed", "prompt_hash", "demos",
                  "proposal_stage", "checked", "stage", "line", "message", "cycles")


def outcome(rows: list[dict]) -> list[list]:
    """A run's attempts (log rows, in order) as the fields a replay of it must reproduce."""
    return [[row[name] if not isinstance(row[name], tuple) else list(row[name]) for name in OUTCOME_FIELDS]
            for row in rows]


class JsonlLog:
    """Appends one JSON object per attempt, with ``fields`` (say, which of several runs made it) added to each;
    the file, emptied when the log is made, is the full record of the runs it is given."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")

    def __call__(self, attempt: Attempt, **fields) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({**attempt_row(attempt), **fields}) + "\n")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def results_table(result: AgentResult, compiler_cycles: dict[str, float] | None = None) -> str:
    compiler_cycles = compiler_cycles or {}
    single, agent, final = result.solved(single=True), result.solved(max_round=0), result.solved()
    header = (f"{'task':24} {'group':22} lvl single agent final {'tokens':>8} {'wall s':>7} "
              f"{'best cyc':>9} {'expert cyc':>10} {'compiler cyc':>12}")
    lines = [header, "-" * len(header)]
    for name in result.tasks:
        task = TASKS[name]
        mine = [a for a in result.attempts if a.task == name]
        first = [a for a in mine if a.round == 0]
        best = result.library.fastest(name)
        tokens = sum(a.prompt_tokens + a.completion_tokens for a in mine)
        lines.append(
            f"{name:24} {task.group.value:22} {task.level:>3} {'yes' if name in single else 'no':>6} "
            f"{sum(a.passed for a in first)}/{len(first):<3} {sum(a.passed for a in mine)}/{len(mine):<3} "
            f"{tokens:>8} {sum(a.seconds for a in mine):>7.1f} {_cell(best.cycles if best else None):>9} "
            f"{_cell(modeled_cycles(task, task.expert, result.config.device)):>10} "
            f"{_cell(compiler_cycles.get(name)):>12}")
    calls = sum(1 + a.checked for a in result.attempts)
    lines += ["", f"model {result.model}: {len(result.tasks)} tasks; {result.config.describe()}",
              f"{result.rounds} round(s), {len(result.attempts)} attempts, {calls} model calls, "
              f"{sum(a.prompt_tokens + a.completion_tokens for a in result.attempts)} tokens, "
              f"{sum(a.seconds for a in result.attempts):.0f} s of generation",
              f"solved by a single call: {len(single)}/{len(result.tasks)}",
              f"solved by the agent (round 0): {len(agent)}/{len(result.tasks)}",
              f"solved after self-improvement: {len(final)}/{len(result.tasks)}"]
    return "\n".join(lines)
