"""The agent's memory: verified solutions, and the demonstrations drawn from them for the next prompt.

As in the paper: only verified programs are kept; identical programs (up to whitespace, comments and the
names they choose for their own loops, streams, queues, tokens, accumulators and values) are kept once; per
task the shortest one is its demonstration (ties: fewer modeled cycles); a task's difficulty is how few of
its samples passed in the round that solved it; and demonstrations are added in ``m`` strata of difficulty,
hardest first (``Library.strata``). Beyond the paper, ``fastest`` is what a speed round improves on and
what the compiler's switch uses.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dae_emulator.text import format_program, parse_program

if TYPE_CHECKING:
    from dae_emulator.cost import CostRecord


@dataclass(frozen=True)
class Solution:
    task: str
    level: int
    program: str
    cycles: float | None = None
    cost: CostRecord | None = field(default=None, compare=False)

    @property
    def size(self) -> tuple[int, int]:
        lines = normalized(self.program).splitlines()
        return len(lines), sum(len(line) for line in lines)


def normalized(program: str) -> str:
    """The program without comments, blank lines and indentation."""
    lines = (line.split("#")[0].strip() for line in program.splitlines())
    return "\n".join(" ".join(line.split()) for line in lines if line)


def canonical(program: str) -> str:
    """The program as the emulator's printer writes it, with every name it chooses itself (program, loops,
    streams, queues, tokens, accumulators, values; not the parameters the task fixes) replaced by its kind and
    order: two programs with the same canonical text differ only in naming, layout and comments. Text that
    does not parse is compared as ``normalized``."""
    try:
        p = parse_program(program)
    except Exception:
        return normalized(program)
    streams = [s for t in p.traversals for s in p.streams if s.traversal == t.name]   # the printed order
    names = {**{t.name: f"l{i}" for i, t in enumerate(p.traversals)},
             **{s.name: f"s{i}" for i, s in enumerate(streams)},
             **{q.name: f"q{i}" for i, q in enumerate(p.queues)},
             **{a.name: f"a{i}" for i, a in enumerate(p.accumulators)},
             **{c.token: f"T{i}" for i, c in enumerate(p.callbacks)}}
    rn = lambda n: names.get(n, n) if isinstance(n, str) else n   # noqa: E731
    callbacks = []
    for cb in p.callbacks:
        values = {i.result: f"v{k}" for k, i in enumerate(x for x in cb.body if x.result)}
        rv = lambda a: values.get(a, a) if isinstance(a, str) else a   # noqa: E731
        body = tuple(replace(i, result=rv(i.result), args=tuple(rv(a) for a in i.args), target=rn(i.target))
                     for i in cb.body)
        callbacks.append(replace(cb, token=rn(cb.token), body=body))
    renamed = replace(
        p, name="p", notes=(),
        traversals=tuple(replace(t, name=rn(t.name), parent=rn(t.parent), lo=rn(t.lo), hi=rn(t.hi))
                         for t in p.traversals),
        streams=tuple(replace(s, name=rn(s.name), traversal=rn(s.traversal), index=rn(s.index),
                              operands=tuple(rn(o) for o in s.operands)) for s in p.streams),
        rules=tuple(replace(r, traversal=rn(r.traversal), token=rn(r.token), when=rn(r.when),
                            pushes=tuple((rn(q), rn(x)) for q, x in r.pushes)) for r in p.rules),
        queues=tuple(replace(q, name=rn(q.name)) for q in p.queues),
        accumulators=tuple(replace(a, name=rn(a.name)) for a in p.accumulators),
        callbacks=tuple(callbacks))
    return normalized(format_program(renamed))


@dataclass
class Library:
    solutions: dict[str, list[Solution]] = field(default_factory=dict)
    passes: dict[str, int] = field(default_factory=dict)     # task -> passing samples when it was solved

    def add(self, solution: Solution) -> bool:
        """Keep a verified solution; False when the same program (up to naming) is already kept for that task."""
        kept = self.solutions.setdefault(solution.task, [])
        if any(canonical(s.program) == canonical(solution.program) for s in kept):
            return False
        kept.append(solution)
        return True

    def record_passes(self, task: str, passes: int) -> None:
        """The task's difficulty: how many samples passed in the round that solved it (fewer: harder)."""
        self.passes.setdefault(task, passes)

    def best(self, task: str) -> Solution | None:
        """The shortest solution of ``task`` (ties: fewer cycles): its demonstration."""
        kept = self.solutions.get(task)
        return min(kept, key=lambda s: (s.size, s.cycles or float("inf"))) if kept else None

    def fastest(self, task: str) -> Solution | None:
        """The solution of ``task`` with the fewest modeled cycles (ties: shorter)."""
        kept = [s for s in self.solutions.get(task, []) if s.cycles is not None]
        return min(kept, key=lambda s: (s.cycles, s.size)) if kept else None

    def solved(self) -> set[str]:
        return {t for t, kept in self.solutions.items() if kept}

    def strata(self, m: int, limit: int | None = None) -> list[list[Solution]]:
        """The demonstration sets of one self-improvement iteration, tried in order: the solved tasks sorted
        by pass count (hardest first) are split into ``m`` near-equal groups; set ``j`` holds every task whose
        pass count is at most the largest of group ``j`` (so ties stay together and each set contains the one
        before). Sets equal to the one before are dropped. Each task shows its shortest program; identical
        programs of several tasks are shown once; ``limit`` caps a set's size (None: no cap, as the paper)."""
        order = sorted(self.solved(), key=lambda t: (self.passes.get(t, 0), t))
        if not order or m < 1:
            return []
        counts = [self.passes.get(t, 0) for t in order]
        size, extra = divmod(len(order), m)
        ends, end = [], 0
        for group in range(m):
            end += size + (group < extra)
            if end and (not ends or end > ends[-1]):
                ends.append(end)
        sets: list[list[Solution]] = []
        for end in ends:
            threshold = counts[end - 1]
            chosen, shown = [], set()
            for task in order:
                program = canonical(self.best(task).program)
                if self.passes.get(task, 0) <= threshold and program not in shown:
                    shown.add(program)
                    chosen.append(self.best(task))
            chosen = chosen[:limit] if limit is not None else chosen
            if not sets or [s.task for s in chosen] != [s.task for s in sets[-1]]:
                sets.append(chosen)
        return sets
