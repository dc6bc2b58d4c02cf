"""Each task's grammar: the DAE program grammar (``dae_emulator.grammar``) narrowed to what the task allows,
for decoding constrained to it.

The program's name is the task's; its signature lines are fixed text (the model does not choose its
parameters' names, dtypes or shapes); dimensions name only the task's size symbols; streams load only its
inputs (each by the load its rank takes) and stores write only its outputs; callbacks take only lanes and
unroll factors the device can run; traversals and queues stay within the device's; the layout is
``format_program``'s, and no comment lines are allowed: what a model writes is the program, with no prose
to strip. The ICML 2025 agent does not constrain decoding; this is how a small local model gets past
writing no program at all.
"""
from __future__ import annotations

import re

import dae_emulator
from dae_emulator.grammar import program_grammar
from dae_emulator.program import Dim
from dae_emulator.scoped_grammar import ScopedGrammar

from .scoped_decoding import Constraint
from .tasks import Task
from .tasks.spec import Gen
from .verifier import static_failure

UNROLLS = (1, 2, 4, 8, 16, 32)
# not device limits: bounds that stop a small model repeating a callback or an instruction until it runs out
# of tokens (the expert programs have at most 2 callbacks, of at most 11 instructions)
MAX_CALLBACKS, MAX_INSTRUCTIONS = 4, 12


def size_symbols(task: Task) -> tuple[str, ...]:
    """The size symbols the task's dimensions name (``num_offsets - 1`` names ``num_offsets``)."""
    dims = [d for t in (*task.inputs, *task.outputs) for d in t.dims if isinstance(d, str)]
    return tuple(sorted({d.partition(" - ")[0].strip() for d in dims}))


def value_bounds(task: Task) -> tuple[tuple[str, Dim], ...]:
    """Below what each integer input's values lie, as the task draws them: an index below its bound, offsets
    up to their total (so below it plus one)."""
    out = []
    for t in task.inputs:
        if t.gen in (Gen.INDEX, Gen.OFFSETS):
            symbol, _, minus = str(t.bound).partition(" - ")
            bound = Dim(None, int(symbol)) if symbol.isdigit() else Dim(symbol, -int(minus or 0))
            out.append((t.name, Dim(bound.symbol, bound.offset + (t.gen is Gen.OFFSETS))))
    return tuple(out)


def callback_constants(task: Task) -> tuple[str, ...]:
    """The numbers a callback may write: 0, 1 and -1 (a zero, a count, a negation), and the numbers the task's
    description states. SmolLM2 copies the prompt example's ``mul %row, 2.0`` into tasks that scale by
    nothing or by an input (the likelihood walk: that ``2`` is the costliest choice in 5 gather tasks)."""
    stated = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.-])", task.description)     # not 32-bit
    return tuple(dict.fromkeys(["0", "1", "-1", *stated]))


def _lanes(config) -> tuple[int, ...]:
    widest = max(config.vector_bytes // 4, 1)       # fp32 lanes of one vector
    return tuple(2 ** k for k in range(widest.bit_length()) if 2 ** k <= widest)


def task_grammar(task: Task, device: str) -> str:
    """The GBNF grammar of a program for ``task`` on preset ``device``."""
    return _task_grammar(task, dae_emulator.preset(device))


def _task_grammar(task: Task, config) -> str:
    lanes = _lanes(config)
    return program_grammar(name=task.name, params=task.signature().splitlines(), symbols=size_symbols(task),
                           inputs={t.name: len(t.dims) for t in task.inputs},
                           outputs={o.name: len(o.dims) for o in task.outputs},
                           lanes=lanes, unrolls=UNROLLS, max_traversals=config.traversal_units,
                           max_queues=config.queues, max_callbacks=MAX_CALLBACKS, max_instructions=MAX_INSTRUCTIONS,
                           comments=False, canonical=True)


def task_constraint(task: Task, device: str) -> Constraint:
    """What a model call for ``task`` on preset ``device`` carries: the task's grammar, its piece grammars
    (``dae_emulator.scoped_grammar``: the same signature, symbols, device limits and bounds, and the
    verifier's rules of scope), and the agent's full static check as the place an answer may end."""
    config = dae_emulator.preset(device)
    scoped = ScopedGrammar(task.name, tuple(task.signature().splitlines()), size_symbols(task), _lanes(config),
                           UNROLLS, config.traversal_units, config.queues, MAX_CALLBACKS, MAX_INSTRUCTIONS,
                           value_bounds(task), callback_constants(task))
    return Constraint(_task_grammar(task, config), scoped, lambda text: static_failure(task, text, config) is None)
