"""Static checks the agent's verifier adds in front of the emulator's own legality rules, worded so a model
can act on them: the signature a task requires, queue balance at the device's capacity (deadlock), and
outputs that nothing stores. Also: which line of the text an emulator message is about.
"""
from __future__ import annotations

import re

from dae_emulator.config import DeviceConfig
from dae_emulator.program import OpKind, Program

from .tasks import Task


class StaticError(ValueError):
    """A static problem, with the 1-based line it concerns (0: the whole program)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


def check_signature(program: Program, task: Task, text: str) -> None:
    """The program must declare exactly the task's parameters (names, kinds, dtypes, dims)."""
    want = {line.split(":")[0].split()[1]: line for line in task.signature().splitlines()}
    have = {p.name: p for p in program.params}
    for name, line in want.items():
        if name not in have:
            raise StaticError(f"missing parameter line '{line}'")
    for p in program.params:
        if p.name not in want:
            raise StaticError(f"parameter {p.name} is not in the task's signature", locate(text, f"{p.name}:"))
        got = f"{'output' if p.is_output else 'param'} {p.name}: {p.dtype.value}[{', '.join(map(str, p.shape))}]"
        if got != want[p.name]:
            raise StaticError(f"expected '{want[p.name]}', got '{got}'", locate(text, f"{p.name}:"))


def check_deadlock(program: Program, device: DeviceConfig, text: str) -> None:
    """Per token, every queue must gain as many entries as its callback takes.

    A rule that pushes a queue its token's callback never pops leaves one entry behind per token: after
    ``queue_capacity`` tokens the queue is full, the access unit stalls and the device deadlocks. A callback
    that pops a queue its rules do not push waits forever on an empty queue.
    """
    pops = {cb.token: [i.target for i in cb.body if i.op is OpKind.POP] for cb in program.callbacks}
    for rule in program.rules:
        if rule.token not in pops:
            continue
        where = locate(text, f"on {rule.traversal}.{rule.event.value}")
        pushed = [q for q, _ in rule.pushes]
        for q in sorted(set(pushed)):
            extra = pushed.count(q) - pops[rule.token].count(q)
            if extra > 0:
                raise StaticError(f"deadlock: this rule pushes {q} but callback {rule.token} never pops it, so {q} "
                                  f"fills after {device.queue_capacity // extra} tokens (queue capacity "
                                  f"{device.queue_capacity}); add '%x = pop {q}' to callback {rule.token}", where)
        for q in pops[rule.token]:
            if q not in pushed:
                raise StaticError(f"deadlock: callback {rule.token} pops {q} but this rule sends {rule.token} "
                                  f"without pushing {q}, so the execute unit waits forever", where)


def check_stores(program: Program) -> None:
    stored = {i.target for cb in program.callbacks for i in cb.body if i.op in (OpKind.STORE, OpKind.STORE_ADD)}
    for p in program.outputs:
        if p.name not in stored:
            raise StaticError(f"output {p.name} is never stored: add 'store {p.name}[...] = ...' to a callback")


_PATTERNS = (
    (r"callback (\w+)", "callback {}:"),
    (r"rule on (\w+\.\w+)", "on {}"),
    (r"stream (\w+)", "stream {} ="),
    (r"queue (\w+)", "queue {}:"),
    (r"traversal unit (\w+)", "traversal {} ="),
    (r"accumulator (\w+)", "acc {}:"),
    (r"value %(\w+)", "%{} ="),
)


def locate(text: str, needle: str) -> int:
    """The first line containing ``needle`` (0 when none does)."""
    for no, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return no
    return 0


def line_of_message(text: str, message: str) -> int:
    """The line an emulator verifier message is most likely about: the first item it names that the text
    defines."""
    for pattern, template in _PATTERNS:
        for name in re.findall(pattern, message):
            if line := locate(text, template.format(name)):
                return line
    return 0
