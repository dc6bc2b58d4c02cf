"""The agent: several samples per task, retries at rising temperature with the verifier's message fed back,
and self-improvement rounds in which verified programs become demonstrations, until a round solves no new
task.

The single-call baseline is the very first attempt of round 0 (no demonstrations, no retry, the first
temperature): the same call a user would make once, so it is counted from the agent's own log, not re-run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .demos import Library, Solution
from .models import LanguageModel
from .prompt import build_messages, extract_program, prompt_hash
from .tasks import TASKS, Task
from .verifier import Stage, Verdict, verify


@dataclass(frozen=True)
class AgentConfig:
    samples: int = 2                 # independent samples per task and round
    retries: int = 1                 # corrected attempts after a failed one, per sample
    temperature: float = 0.2         # the first attempt's temperature
    temperature_step: float = 0.3    # added per retry
    max_temperature: float = 1.0
    demos: int = 4                   # demonstrations per prompt
    max_rounds: int = 3              # round 0 plus at most this many self-improvement rounds
    device: str = "server"

    def temperatures(self) -> list[float]:
        """Temperature of the first attempt and of each retry."""
        return [round(min(self.temperature + i * self.temperature_step, self.max_temperature), 4)
                for i in range(self.retries + 1)]


@dataclass(frozen=True)
class Attempt:
    task: str
    round: int
    sample: int
    retry: int
    temperature: float
    seed: int
    prompt_hash: str
    demos: tuple[str, ...]
    program: str
    stage: Stage
    message: str
    line: int
    cycles: float | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float

    @property
    def passed(self) -> bool:
        return self.stage is Stage.PASSED


@dataclass
class AgentResult:
    model: str
    config: AgentConfig
    tasks: list[str]
    attempts: list[Attempt] = field(default_factory=list)
    library: Library = field(default_factory=Library)
    rounds: int = 0

    def solved(self, *, single: bool = False, max_round: int | None = None) -> set[str]:
        picked = (a for a in self.attempts if a.passed)
        if single:
            picked = (a for a in picked if a.round == 0 and a.sample == 0 and a.retry == 0)
        elif max_round is not None:
            picked = (a for a in picked if a.round <= max_round)
        return {a.task for a in picked}


class Agent:
    def __init__(self, model: LanguageModel, config: AgentConfig = AgentConfig(),
                 on_attempt: Callable[[Attempt], None] | None = None):
        self.model, self.config, self.on_attempt = model, config, on_attempt or (lambda a: None)

    def run(self, tasks: list[Task], progress: Callable[[Task, int], None] | None = None) -> AgentResult:
        """Round 0 without demonstrations, then rounds on the unsolved tasks with demonstrations from what is
        solved so far; stops after a round that solves nothing new, or after ``max_rounds`` such rounds."""
        result = AgentResult(self.model.name, self.config, [t.name for t in tasks])
        for rnd in range(self.config.max_rounds + 1):
            todo = [t for t in tasks if t.name not in result.library.solved()]
            demos = {t.name: result.library.demonstrations(t.name, self.config.demos) for t in todo}
            before = len(result.library.solved())
            for task in todo:
                result.attempts += self.solve(task, demos[task.name], rnd, result.library)
                if progress:
                    progress(task, rnd)
            result.rounds = rnd + 1
            if len(result.library.solved()) == before or not [t for t in tasks if t.name not in result.library.solved()]:
                break
        return result

    def solve(self, task: Task, demos: list[Solution], rnd: int, library: Library) -> list[Attempt]:
        """Every sample of one task in one round; each sample retries with feedback until it passes."""
        attempts = []
        for sample in range(self.config.samples):
            failed = feedback = None
            for retry, temperature in enumerate(self.config.temperatures()):
                attempt = self.attempt(task, demos, rnd, sample, retry, temperature, failed, feedback)
                attempts.append(attempt)
                self.on_attempt(attempt)
                if attempt.passed:
                    library.add(Solution(task.name, task.level, attempt.program, attempt.cycles))
                    break
                failed = attempt.program
                feedback = Verdict(attempt.stage, attempt.message, attempt.line).feedback()
        return attempts

    def attempt(self, task: Task, demos: list[Solution], rnd: int, sample: int, retry: int, temperature: float,
                failed: str | None, feedback: str | None) -> Attempt:
        shown = [(TASKS[s.task], s.program) for s in demos]
        messages = build_messages(task, shown, failed, feedback)
        seed = 1000 * rnd + 10 * sample + retry
        completion = self.model.complete(messages, temperature, seed)
        program = extract_program(completion.text)
        verdict = verify(task, program, self.config.device)
        return Attempt(task.name, rnd, sample, retry, temperature, seed, prompt_hash(messages),
                       tuple(s.task for s in demos), program, verdict.stage, verdict.message, verdict.line,
                       verdict.cycles, completion.prompt_tokens, completion.completion_tokens, completion.seconds)
