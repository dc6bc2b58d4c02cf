"""The verifier an agent learns from: parse, static legality, functional runs against the PyTorch reference
on several seeds and sizes, then the modeled cost. ``Verdict.findings`` keeps only the static part, for the
checking stage; ``cost_text`` words a cost record for a speed round.

It never raises on a candidate: every failure becomes a ``Verdict`` whose message names the line (where there
is one) and what is wrong, short enough to feed back into the next prompt.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import torch

import dae_emulator
from dae_emulator.config import DeviceConfig
from dae_emulator.cost import CostRecord

from .static import StaticError, check_deadlock, check_signature, check_stores, line_of_message
from .tasks import Task
from .tasks.inputs import make_inputs

SEEDS = (0, 1)


class Stage(enum.Enum):
    """How far a candidate got; PASSED only when every case matches the reference."""

    EMPTY = "empty"            # no program text in the model's answer
    SYNTAX = "syntax"
    SIGNATURE = "signature"
    LEGALITY = "legality"      # static rules: queues, deadlock, names, resources, stores
    RUNTIME = "runtime"        # the emulator stopped: an address out of range, a negative trip count, ...
    MISMATCH = "mismatch"      # ran, but an output differs from the reference
    PASSED = "passed"


STATIC_STAGES = frozenset({Stage.EMPTY, Stage.SYNTAX, Stage.SIGNATURE, Stage.LEGALITY})


@dataclass(frozen=True)
class Verdict:
    stage: Stage
    message: str
    line: int = 0
    cycles: float | None = None      # modeled cycles at the task's bench size, for passing programs
    cost: CostRecord | None = None   # the whole cost record behind ``cycles``

    @property
    def passed(self) -> bool:
        return self.stage is Stage.PASSED

    def feedback(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.stage.value} error: {where}{self.message}"

    def findings(self) -> str:
        """Only what the static checks (parse, signature, legality) found: the checking stage's input."""
        return self.feedback() if self.stage in STATIC_STAGES else "no static problem found"


def verify(task: Task, text: str, device: DeviceConfig | str = "server", *, cost: bool = True) -> Verdict:
    """Judge ``text`` as a program for ``task`` on ``device``."""
    device = dae_emulator.preset(device) if isinstance(device, str) else device
    program, failure = _static(task, text, device)
    if failure is not None:
        return failure
    for number, sizes in enumerate(task.cases):
        for seed in SEEDS:
            failure = _check_case(task, program, text, sizes, seed, device)
            if failure is not None:
                return failure
    record = modeled_cost(task, program, device) if cost else None
    return Verdict(Stage.PASSED, f"matches the reference on {len(task.cases) * len(SEEDS)} cases",
                   cycles=record.cycles if record else None, cost=record)


def static_failure(task: Task, text: str, device: DeviceConfig) -> Verdict | None:
    """The first static failure of ``text`` for ``task`` (None: it may run)."""
    return _static(task, text, device)[1]


def _static(task: Task, text: str, device: DeviceConfig) -> tuple[object, Verdict | None]:
    """The parsed program and the first static failure (None when it passes every static check)."""
    if not text.strip():
        return None, Verdict(Stage.EMPTY, "no program found; answer with the program text only, starting "
                                          "'program NAME'")
    try:
        program = dae_emulator.parse_program(text)
    except dae_emulator.DaeSyntaxError as err:
        return None, Verdict(Stage.SYNTAX, str(err).split(": ", 1)[-1], err.line_no)
    except Exception as err:  # the parser's own bugs must not stop the agent
        return None, Verdict(Stage.SYNTAX, f"{type(err).__name__}: {err}")
    try:
        check_signature(program, task, text)
    except StaticError as err:
        return program, Verdict(Stage.SIGNATURE, str(err), err.line)
    try:
        check_deadlock(program, device, text)
        dae_emulator.verify(program, device)
        check_stores(program)
    except StaticError as err:
        return program, Verdict(Stage.LEGALITY, str(err), err.line)
    except dae_emulator.DaeVerifyError as err:
        return program, Verdict(Stage.LEGALITY, str(err), line_of_message(text, str(err)))
    except Exception as err:
        return program, Verdict(Stage.LEGALITY, f"{type(err).__name__}: {err}", line_of_message(text, str(err)))
    return program, None


def modeled_cost(task: Task, program, device: DeviceConfig | str = "server") -> CostRecord:
    """The modeled cost record of ``program`` on the task's bench-size inputs (seed 0)."""
    return dae_emulator.run(program, make_inputs(task, task.bench, 0), device).cost


def modeled_cycles(task: Task, program, device: DeviceConfig | str = "server") -> float:
    """Modeled cycles of ``program`` on the task's bench-size inputs (seed 0)."""
    return modeled_cost(task, program, device).cycles


def cost_text(cost: CostRecord) -> str:
    """The cost record a speed round feeds back: cycles, what bounds the run, stall cycles, traffic."""
    stalls = cost.stalls
    return (f"{cost.cycles:.0f} cycles, bound by {cost.bound.value}; stall cycles summed over cores: access queue "
            f"full {stalls.access_queue_full:.0f} (the execute unit is behind), execute queue empty "
            f"{stalls.execute_queue_empty:.0f} (the access unit is behind), memory latency "
            f"{stalls.memory_latency:.0f}; DRAM bytes read {cost.dram_bytes_read}, written "
            f"{cost.dram_bytes_written}; cache hit rate {cost.hit_rate:.2f}")


def _check_case(task: Task, program, text: str, sizes: dict[str, int], seed: int, device) -> Verdict | None:
    inputs = make_inputs(task, sizes, seed)
    case = ", ".join(f"{k}={v}" for k, v in sizes.items())
    try:
        got = dae_emulator.run(program, inputs, device, timing=False).outputs
    except Exception as err:
        return Verdict(Stage.RUNTIME, f"with {case}: {err}", line_of_message(text, str(err)))
    want = task.reference({k: v.clone() for k, v in inputs.items()})
    for spec in task.outputs:
        problem = _compare(got[spec.name], want[spec.name].to(got[spec.name].dtype), spec.exact, task)
        if problem:
            return Verdict(Stage.MISMATCH, f"output {spec.name} with {case}, seed {seed}: {problem}")
    return None


def _compare(got: torch.Tensor, want: torch.Tensor, exact: bool, task: Task) -> str | None:
    if got.shape != want.shape:
        return f"shape {tuple(got.shape)}, want {tuple(want.shape)}"
    if exact or not got.dtype.is_floating_point:
        bad = got != want
    else:
        bad = ~torch.isclose(got, want, rtol=task.rtol, atol=task.atol)
    if not bool(bad.any()):
        return None
    first = tuple(int(i) for i in torch.nonzero(bad)[0])
    at = ", ".join(map(str, first))
    return (f"{int(bad.sum())} of {bad.numel()} elements wrong; at [{at}] got {got[first].item():.6g}, "
            f"want {want[first].item():.6g}")
