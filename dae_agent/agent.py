"""The agent as the paper runs it (adaptive self-improvement, ICML 2025), plus three switches of our own.

Round 0: every task gets ``samples`` proposals at ``temperature``, sampled in parallel and without
demonstrations; each proposal goes through the checking stage (a second model call that gets the program
and the static legality findings and returns it repaired) and then the verifier. A task is solved when any
of its samples verifies; how many did is its difficulty. Then, as long as tasks are unsolved and something
is solved: the solved tasks are stratified by difficulty into ``strata`` sets of demonstrations, hardest
first, each set holding the one before; the unsolved tasks are sampled again with the first set, at each of
``retry_temperatures``; as soon as a set solves a new task the strata are rebuilt from the larger library;
when the last (largest) set solves nothing, the run stops.

Beyond the paper, each off by default so the paper's setting stays comparable: ``repair`` rounds that feed a
failed sample's program and the verifier's message back; ``speed`` rounds that give a solved task's fastest
verified program with its cost record and keep the fastest verified answer; and (in ``switch.py``) the
compiler's opt-in use of a verified program that models faster than its own.

The single-call baseline is the proposer's first call of round 0 judged alone (sample 0, before the checker
or any repair): the call a user would make once, counted from the agent's own log, not re-run.
"""
from __future__ import annotations

import enum
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from dae_emulator.cost import CostRecord

from .demos import Library, Solution
from .grammar import task_constraint
from .models import LanguageModel
from .prompt import build_messages, checker_messages, extract_program, prompt_hash, speed_messages
from .tasks import TASKS, Task
from .verifier import Stage, Verdict, cost_text, verify

PAPER_TEMPERATURE = 0.5                  # round 0 (the authors' example scripts)
PAPER_RETRY_TEMPERATURES = (0.4, 0.7, 1.0)


@dataclass(frozen=True)
class AgentConfig:
    # the paper's setting
    samples: int = 2                     # n: samples per task and temperature, run in parallel
    temperature: float = PAPER_TEMPERATURE
    retry_temperatures: tuple[float, ...] = PAPER_RETRY_TEMPERATURES   # unsolved tasks, each round after 0
    checker: bool = True                 # proposer -> checker; False: the proposal is verified as it is
    strata: int = 3                      # m: demonstrations are added in this many strata, hardest first
    demos: int | None = None             # cap on demonstrations per prompt (None: the whole stratum)
    max_rounds: int | None = None        # cap on rounds after round 0 (None: only the stop rule ends the run)
    workers: int = 0                     # threads sampling one task (0: one per sample; 1: one after another)
    device: str = "server"
    # beyond the paper
    repair: int = 0                      # repair rounds per failed sample, fed the verifier's message
    repair_step: float = 0.3             # each repair samples this much hotter (at most 1.0)
    speed: int = 0                       # speed rounds per solved task, fed the cost record

    def round_temperatures(self, rnd: int) -> tuple[float, ...]:
        return (self.temperature,) if rnd == 0 else tuple(self.retry_temperatures)

    def repair_temperature(self, temperature: float, repair: int) -> float:
        return round(min(temperature + repair * self.repair_step, 1.0), 4)

    def describe(self) -> str:
        extras = [f"repair x{self.repair}"] * bool(self.repair) + [f"speed x{self.speed}"] * bool(self.speed)
        return (f"{self.samples} sample(s) at {self.temperature} in round 0, unsolved tasks at "
                f"{', '.join(map(str, self.retry_temperatures))} after; checker {'on' if self.checker else 'off'}, "
                f"{self.strata} strata" + "".join(f", {e}" for e in extras))


class Kind(enum.Enum):
    SAMPLE = "sample"      # a proposal (then the checker)
    REPAIR = "repair"      # a failed sample's program and the verifier's message fed back
    SPEED = "speed"        # a solved task's fastest program and its cost record fed back


@dataclass(frozen=True)
class Attempt:
    task: str
    round: int
    kind: Kind
    sample: int
    repair: int                   # 0: the sample itself; k: its k-th repair (speed: the k-th speed round)
    temperature: float
    seed: int
    prompt_hash: str
    demos: tuple[str, ...]
    proposal_stage: Stage         # the first call's program judged alone (before the checker)
    checked: bool                 # a checker call followed
    program: str                  # the program kept: the checker's, or the proposal when only it verifies
    stage: Stage
    message: str
    line: int
    cycles: float | None
    bound: str | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cost: CostRecord | None = field(default=None, repr=False, compare=False)   # not logged: ``cycles``, ``bound``

    @property
    def passed(self) -> bool:
        return self.stage is Stage.PASSED


SPEED_INDEX = 9    # the temperature index in the seeds of speed rounds


def seed_of(rnd: int, temperature_index: int, sample: int, step: int, call: int) -> int:
    """The seed of one model call; distinct for fewer than 9 temperatures, 1000 samples and 10 repair or speed
    steps. ``call``: 0 the first call (proposal, repair or speed prompt), 1 the checker."""
    return (((rnd * 10 + temperature_index) * 1000 + sample) * 10 + step) * 10 + call


@dataclass
class AgentResult:
    model: str
    config: AgentConfig
    tasks: list[str]
    attempts: list[Attempt] = field(default_factory=list)
    library: Library = field(default_factory=Library)
    rounds: int = 0

    def solved(self, *, single: bool = False, max_round: int | None = None) -> set[str]:
        if single:
            return {a.task for a in self.attempts if a.round == 0 and a.kind is Kind.SAMPLE and a.sample == 0
                    and a.repair == 0 and a.proposal_stage is Stage.PASSED}
        picked = (a for a in self.attempts if a.passed)
        if max_round is not None:
            picked = (a for a in picked if a.round <= max_round)
        return {a.task for a in picked}


class Agent:
    def __init__(self, model: LanguageModel, config: AgentConfig = AgentConfig(),
                 on_attempt: Callable[[Attempt], None] | None = None):
        self.model, self.config, self.on_attempt = model, config, on_attempt or (lambda a: None)

    def run(self, tasks: list[Task], progress: Callable[[Task, int], None] | None = None) -> AgentResult:
        """Round 0, then self-improvement rounds over strata of demonstrations until the stop rule."""
        result = AgentResult(self.model.name, self.config, [t.name for t in tasks])
        self.round(result, tasks, [], 0, progress)
        rnd = 0
        while self._unsolved(result, tasks) and result.library.solved():
            gained = False
            for demos in result.library.strata(self.config.strata, self.config.demos):
                if self.config.max_rounds is not None and rnd >= self.config.max_rounds:
                    break
                rnd += 1
                if self.round(result, self._unsolved(result, tasks), demos, rnd, progress):
                    gained = True
                    break
            if not gained:   # the largest stratum (or the round cap) gained nothing: stop
                break
        result.rounds = rnd + 1
        return result

    @staticmethod
    def _unsolved(result: AgentResult, tasks: list[Task]) -> list[Task]:
        return [t for t in tasks if t.name not in result.library.solved()]

    def round(self, result: AgentResult, tasks: list[Task], demos: list[Solution], rnd: int,
              progress: Callable[[Task, int], None] | None = None) -> bool:
        """Sample every task at each of the round's temperatures; True when a task got solved."""
        gained = False
        for task in tasks:
            passes = 0
            for index, temperature in enumerate(self.config.round_temperatures(rnd)):
                batch = self.samples(task, demos, rnd, index, temperature)
                for attempts in batch:
                    for attempt in attempts:
                        result.attempts.append(attempt)
                        self.on_attempt(attempt)
                        if attempt.passed:
                            self._keep(result.library, task, attempt)
                passes = max(passes, sum(any(a.passed for a in attempts) for attempts in batch))
            if passes:
                result.library.record_passes(task.name, passes)
                gained = True
                for attempt in self.speed_rounds(task, result.library, rnd):
                    result.attempts.append(attempt)
                    self.on_attempt(attempt)
            if progress:
                progress(task, rnd)
        return gained

    def samples(self, task: Task, demos: list[Solution], rnd: int, index: int,
                temperature: float) -> list[list[Attempt]]:
        """The task's samples at one temperature, run in parallel; in sample order, whatever finished first."""
        n = self.config.samples
        workers = min(self.config.workers or n, n)
        run = lambda sample: self.sample(task, demos, rnd, index, sample, temperature)   # noqa: E731
        if workers <= 1:
            return [run(s) for s in range(n)]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dae_agent") as pool:
            return list(pool.map(run, range(n)))

    def sample(self, task: Task, demos: list[Solution], rnd: int, index: int, sample: int,
               temperature: float) -> list[Attempt]:
        """One sample: the proposal, then (switch) repairs fed the verifier's message until one verifies."""
        shown = [(TASKS[s.task], s.program) for s in demos]
        names = tuple(s.task for s in demos)
        attempts = [self.attempt(task, build_messages(task, shown), Kind.SAMPLE, rnd, index, sample, 0,
                                 temperature, names)]
        for repair in range(1, self.config.repair + 1):
            last = attempts[-1]
            if last.passed:
                break
            feedback = Verdict(last.stage, last.message, last.line).feedback()
            messages = build_messages(task, shown, last.program, feedback)
            attempts.append(self.attempt(task, messages, Kind.REPAIR, rnd, index, sample, repair,
                                         self.config.repair_temperature(temperature, repair), names))
        return attempts

    def speed_rounds(self, task: Task, library: Library, rnd: int) -> list[Attempt]:
        """(switch) Ask for a faster program, fed the fastest verified one and its cost record; a verified
        answer joins the library, whose ``fastest`` then is the fastest verified program."""
        attempts = []
        for step in range(1, self.config.speed + 1):
            fastest = library.fastest(task.name)
            if fastest is None or fastest.cost is None:
                break
            messages = speed_messages(task, fastest.program, cost_text(fastest.cost))
            attempt = self.attempt(task, messages, Kind.SPEED, rnd, SPEED_INDEX, 0, step, self.config.temperature,
                                   ())
            attempts.append(attempt)
            if attempt.passed:
                self._keep(library, task, attempt)
        return attempts

    def attempt(self, task: Task, messages: list[dict[str, str]], kind: Kind, rnd: int, index: int,
                sample: int, step: int, temperature: float, demos: tuple[str, ...]) -> Attempt:
        """One model call, the checker's call on its program (when on), and the verifier's verdict."""
        device = self.config.device
        grammar = task_constraint(task, device)   # the backend decides whether to constrain decoding to it
        first = self.model.complete(messages, temperature, seed_of(rnd, index, sample, step, 0), grammar)
        proposal = extract_program(first.text)
        calls = [first]
        if self.config.checker:
            proposed = verify(task, proposal, device, cost=False)
            check = self.model.complete(checker_messages(task, proposal, proposed.findings()), temperature,
                                        seed_of(rnd, index, sample, step, 1), grammar)
            calls.append(check)
            program = extract_program(check.text) or proposal   # an answer without a program changes nothing
            verdict = verify(task, program, device) if program != proposal or proposed.passed else proposed
            if not verdict.passed and proposed.passed:          # a checker never undoes a verified program
                program, verdict = proposal, verify(task, proposal, device)
        else:
            program, verdict = proposal, verify(task, proposal, device)
            proposed = verdict
        return Attempt(task.name, rnd, kind, sample, step, temperature, seed_of(rnd, index, sample, step, 0),
                       prompt_hash(messages), demos, proposed.stage, self.config.checker, program, verdict.stage,
                       verdict.message, verdict.line, verdict.cycles,
                       verdict.cost.bound.value if verdict.cost else None,
                       sum(c.prompt_tokens for c in calls), sum(c.completion_tokens for c in calls),
                       sum(c.seconds for c in calls), verdict.cost)

    @staticmethod
    def _keep(library: Library, task: Task, attempt: Attempt) -> None:
        library.add(Solution(task.name, task.level, attempt.program, attempt.cycles, attempt.cost))


__all__ = ["Agent", "AgentConfig", "AgentResult", "Attempt", "Kind", "seed_of"]
