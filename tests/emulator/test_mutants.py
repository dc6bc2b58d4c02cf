"""Mutated programs: the tasks' expert programs with lines deleted, repeated, swapped or edited, as a model
or a user might write them. Whatever the text, ``dae_emulator.run`` either runs it or raises one of the
emulator's own errors, which name the problem; never an exception from deep inside the emulator (this found
a traversal unit declared twice raising IndexError; ops given the wrong number of operands crashed or ran
with one dropped)."""
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dae_emulator
from dae_agent.tasks import TASKS
from dae_agent.tasks.inputs import make_inputs

OWN_ERRORS = (dae_emulator.DaeSyntaxError, dae_emulator.DaeVerifyError, dae_emulator.DaeAddressError,
              dae_emulator.DaeRangeError, dae_emulator.DaeShapeError)
NAME = re.compile(r"(?<![\w%])%?[a-z_][a-z0-9_]*\b")


@st.composite
def mutants(draw):
    task = TASKS[draw(st.sampled_from(sorted(TASKS)))]
    lines = task.expert.strip().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "repeat", "swap", "rename", "number", "kind", "operands"]))
        if kind == "delete" and len(lines) > 1:
            del lines[k]
        elif kind == "repeat":
            lines.insert(k, lines[draw(st.integers(0, len(lines) - 1))])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
        elif kind == "rename":       # a name of the program where another stood
            names = sorted(set(NAME.findall("\n".join(lines))))
            old, new = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            lines[k] = re.sub(rf"(?<![\w%]){re.escape(old)}\b", new, lines[k])
        elif kind == "number":
            number = draw(st.sampled_from(["0", "1", "-1", "2.5", "100", "-inf"]))
            lines[k] = re.sub(r"\b\d+(\.\d+)?\b", number, lines[k], count=1)
        elif kind == "operands" and "," in lines[k]:      # one operand dropped, or one more
            lines[k] = (re.sub(r",\s*[^,]+?(?=\)|$)", "", lines[k], count=1) if draw(st.booleans())
                        else re.sub(r"(,\s*[^,]+?)(?=\)|$)", r"\1\1", lines[k], count=1))
        elif kind == "kind":
            swaps = [("row", "scalar"), ("load_row", "load"), ("sum", "max"), ("store", "store_add"), ("f32", "i64")]
            a, b = draw(st.sampled_from(swaps))
            lines[k] = lines[k].replace(a, b) if a in lines[k] else lines[k].replace(b, a)
    return task, "\n".join(lines) + "\n"


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_a_mutated_program_runs_or_raises_the_emulators_own_error(mutant):
    task, text = mutant
    inputs = make_inputs(task, task.cases[0], 0)
    try:
        result = dae_emulator.run(text, inputs)
    except OWN_ERRORS:
        return
    assert all(isinstance(out, torch.Tensor) for out in result.outputs.values())
