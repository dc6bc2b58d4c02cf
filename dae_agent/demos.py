"""The agent's memory: verified solutions, and the demonstrations drawn from them for the next prompt.

As in the paper: only verified programs are kept; per task the shortest one is shown (ties: fewer modeled
cycles); identical programs (up to whitespace and comments) are shown once; and demonstrations are
stratified by difficulty, hardest first, so a few examples cover the constructs the hard tasks need.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Solution:
    task: str
    level: int
    program: str
    cycles: float | None = None

    @property
    def size(self) -> tuple[int, int]:
        lines = normalized(self.program).splitlines()
        return len(lines), sum(len(line) for line in lines)


def normalized(program: str) -> str:
    """The program without comments, blank lines and indentation: equal texts are the same program."""
    lines = (line.split("#")[0].strip() for line in program.splitlines())
    return "\n".join(" ".join(line.split()) for line in lines if line)


@dataclass
class Library:
    solutions: dict[str, list[Solution]] = field(default_factory=dict)

    def add(self, solution: Solution) -> bool:
        """Keep a verified solution; False when the same program is already kept for that task."""
        kept = self.solutions.setdefault(solution.task, [])
        if any(normalized(s.program) == normalized(solution.program) for s in kept):
            return False
        kept.append(solution)
        return True

    def best(self, task: str) -> Solution | None:
        """The shortest solution of ``task`` (ties: fewer cycles)."""
        kept = self.solutions.get(task)
        return min(kept, key=lambda s: (s.size, s.cycles or float("inf"))) if kept else None

    def solved(self) -> set[str]:
        return {t for t, kept in self.solutions.items() if kept}

    def demonstrations(self, exclude: str, k: int) -> list[Solution]:
        """Up to ``k`` demonstrations for task ``exclude``: one per task, deduplicated, taken round-robin over
        difficulty levels from the hardest down."""
        shown: set[str] = set()
        by_level: dict[int, list[Solution]] = {}
        for task in sorted(self.solved() - {exclude}):
            best = self.best(task)
            if normalized(best.program) in shown:
                continue
            shown.add(normalized(best.program))
            by_level.setdefault(best.level, []).append(best)
        chosen: list[Solution] = []
        while len(chosen) < k and any(by_level.values()):
            for level in sorted(by_level, reverse=True):
                if by_level[level] and len(chosen) < k:
                    chosen.append(by_level[level].pop(0))
        return chosen
