"""The switch a compiler can call: use a verified agent program for a region when it models faster.

``save_library`` writes the fastest verified program per task (a speed round's, when one won);
``faster_program`` re-verifies a saved program against the task (so a stale file can never slip in a wrong
program) and returns it only when it passes and its modeled cycles beat the compiled program's at the task's
bench size. torch_ember calls it under its opt-in ``agent_library`` option.
"""
from __future__ import annotations

import json
from pathlib import Path

from .demos import Library
from .tasks import TASKS
from .verifier import modeled_cycles, verify


def save_library(library: Library, path: str | Path) -> None:
    """The fastest verified program per solved task (the shortest where none has modeled cycles)."""
    best = {task: (library.fastest(task) or library.best(task)).program for task in sorted(library.solved())}
    Path(path).write_text(json.dumps(best, indent=1) + "\n")


def faster_program(task_name: str, compiled_text: str, library_path: str | Path, device: str = "server") -> str | None:
    """The saved agent program for ``task_name`` if it verifies and models fewer cycles than
    ``compiled_text``; otherwise None (keep the compiled program)."""
    saved = json.loads(Path(library_path).read_text()).get(task_name)
    if saved is None or task_name not in TASKS:
        return None
    task = TASKS[task_name]
    verdict = verify(task, saved, device)
    if not verdict.passed:
        return None
    return saved if verdict.cycles < modeled_cycles(task, compiled_text, device) else None
