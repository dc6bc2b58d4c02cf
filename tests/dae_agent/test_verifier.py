"""Mutations of expert programs are rejected at the right stage with the right message; no text crashes the
verifier."""
import enum
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dae_agent.tasks import TASKS
from dae_agent.verifier import Stage, Verdict, verify


class Mutation(enum.Enum):
    DROP_POP = "drop_pop"
    WRONG_QUEUE = "wrong_queue"
    OUT_OF_RANGE = "out_of_range"
    SWAPPED_BOUND = "swapped_bound"
    MISSING_STORE = "missing_store"


def _lines(task, pattern):
    return [i for i, line in enumerate(task.expert.splitlines()) if re.search(pattern, line)]


def mutate(task, kind: Mutation, pick: int) -> tuple[str, Stage, str]:
    """The mutated program, and the stage and message pattern the verifier must answer with."""
    lines = task.expert.splitlines()
    if kind is Mutation.DROP_POP:
        at = _lines(task, r"= pop ")
        at = at[pick % len(at)]
        queue = lines.pop(at).split()[-1]
        return "\n".join(lines), Stage.LEGALITY, rf"deadlock: this rule pushes {queue} but callback \w+ never pops it"
    if kind is Mutation.WRONG_QUEUE:
        at = _lines(task, r"= pop ")[pick % len(_lines(task, r"= pop "))]
        queues = [line.split()[1].rstrip(":") for line in lines if line.strip().startswith("queue ")]
        old = lines[at].split()[-1]
        new = [q for q in queues if q != old][pick % (len(queues) - 1)]
        lines[at] = lines[at].replace(f"pop {old}", f"pop {new}")
        return "\n".join(lines), Stage.LEGALITY, "deadlock"
    if kind is Mutation.OUT_OF_RANGE:
        at = _lines(task, r"= load(_row)? \w+\[")[pick % len(_lines(task, r"= load(_row)? \w+\["))]
        m = re.search(r"load(?:_row)? (\w+)\[(\w+)\] @(\w+)", lines[at])
        tensor, index, layer = m.groups()
        lines[at] = lines[at].replace(f"[{index}]", "[far]")
        lines.insert(at, f"  stream far = alu add({index}, 1000) @{layer}")
        return "\n".join(lines), Stage.RUNTIME, rf"reads {tensor}\[\d+\] .* but {tensor} has \d+ rows"
    if kind is Mutation.SWAPPED_BOUND:
        text = re.sub(r"range \[(\w+), (\w+)\)", r"range [\2, \1)", task.expert)
        return text, Stage.RUNTIME, r"has bounds \[\d+, \d+\) with hi < lo"
    at = _lines(task, r"^\s+store")[pick % len(_lines(task, r"^\s+store"))]
    output = re.search(r"store(?:_add)? (\w+)\[", lines.pop(at)).group(1)
    return "\n".join(lines), Stage.LEGALITY, f"output {output} is never stored"


def _applies(task, kind: Mutation) -> bool:
    if kind is Mutation.SWAPPED_BOUND:
        return "range [" in task.expert
    if kind is Mutation.WRONG_QUEUE:
        return task.expert.count("  queue ") >= 2
    return True


CASES = [(name, kind) for name, task in TASKS.items() for kind in Mutation if _applies(task, kind)]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(CASES), pick=st.integers(0, 50))
def test_mutated_expert_is_rejected_with_the_right_message(case, pick):
    name, kind = case
    text, stage, message = mutate(TASKS[name], kind, pick)
    verdict = verify(TASKS[name], text, cost=False)
    assert verdict.stage is stage, (kind, verdict.feedback())
    assert re.search(message, verdict.message), (kind, verdict.feedback())


def test_every_mutation_kind_is_exercised_on_every_task_it_applies_to():
    for name, kind in CASES:
        text, stage, message = mutate(TASKS[name], kind, 0)
        verdict = verify(TASKS[name], text, cost=False)
        assert verdict.stage is stage and re.search(message, verdict.message), (name, kind, verdict.feedback())


def test_messages_name_the_line():
    task = TASKS["bag_sum"]
    verdict = verify(task, task.expert.replace("alu add(b, 1)", "alu add(b, 2)"), cost=False)
    line = task.expert.splitlines()[verdict.line - 1]
    assert line.strip().startswith("stream hi =") and verdict.feedback().startswith(f"runtime error: line {verdict.line}")
    verdict = verify(task, task.expert.replace("queue q_row: row f32", "queue q_row: rows f32"))
    assert (verdict.stage, verdict.line) == (Stage.SYNTAX, task.expert.splitlines().index("  queue q_row: row f32") + 1)


def test_wrong_signature_is_named():
    task = TASKS["gather_rows"]
    verdict = verify(task, task.expert.replace("param indices: i64", "param indices: i32"))
    assert verdict.stage is Stage.SIGNATURE and "expected 'param indices: i64[num_indices]'" in verdict.message


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(list(TASKS)), cut=st.integers(0, 60), word=st.integers(0, 400),
       junk=st.sampled_from(["", "%x", "q0", "-1", "tu9", "[", "store", "99999999999"]))
def test_arbitrary_edits_never_crash_the_verifier(name, cut, word, junk):
    lines = TASKS[name].expert.splitlines()
    del lines[cut % len(lines)]
    words = "\n".join(lines).split(" ")
    words[word % len(words)] = junk
    verdict = verify(TASKS[name], " ".join(words), cost=False)
    assert isinstance(verdict, Verdict) and verdict.message
