"""The benchmark: tasks in groups covering what the compiler lowers, each with an expert program."""
from __future__ import annotations

from . import bags, gather, moe, multi_table, scatter, segments
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

TASKS: dict[str, Task] = {t.name: t for m in (gather, scatter, bags, segments, moe, multi_table) for t in m.TASKS}


def select(names: str | None) -> list[Task]:
    """Tasks named in a comma list (a group name selects its tasks); ``None`` or ``all``: every task."""
    if names in (None, "", "all"):
        return list(TASKS.values())
    chosen: list[Task] = []
    for name in (n.strip() for n in names.split(",")):
        group = [t for t in TASKS.values() if t.group.value == name]
        if not group and name not in TASKS:
            raise ValueError(f"unknown task or group {name!r}; tasks: {', '.join(TASKS)}")
        chosen += [t for t in group or [TASKS[name]] if t not in chosen]
    return chosen


__all__ = ["TASKS", "Task", "TensorSpec", "OutputSpec", "Gen", "Group", "select"]
