"""Answers SmolLM2 wrote in recorded runs that stopped where no piece could follow (a dead end of the piece
grammars of their day; ``dead_end_answers.json``, and a few written out here): from where today's grammars
stop writing each, a piece can follow, and where the answer was stuck in a callback, a program that passes
every static check can still be written."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from dae_agent.grammar import task_constraint
from dae_agent.tasks import TASKS
from dae_emulator.scoped_grammar import pieces
from dae_emulator.scoped_names import pop_value, queue_name
from gbnf_accepts import accepts        # tests/emulator/gbnf_accepts.py

_LETTERS = "abcdefghijklmnopqrstuvwxyz"     # name suffixes that never go on from one another (``w1``, ``w10`` do)


def _closes(task, text: str, depth: int) -> bool:
    """Whether some ``depth`` instructions or fewer (pops, an index, stores, an op of two values) lead from ``text``
    (inside callback ITEM) to a program that passes every static check, each allowed by the piece grammars."""
    constraint = task_constraint(task, "server")
    if constraint.complete(text + "\n"):
        return True
    if depth == 0:
        return False
    names = re.findall(r"%(\w+) =", text.split("callback ITEM:")[1])
    output = task.outputs[0].name
    moves = [f"\n    %xn{_LETTERS[depth]} = count"] + [f"\n    store {output}[%{n}] = %{v}" for n in names for v in names]
    moves += [f"\n    %xc{_LETTERS[depth]} = max %{a}, %{b}" for a in names for b in names if a != b]
    moves += [f"\n    %{pop_value(q)} = pop {q}" for q in re.findall(r"queue (\w+):", text)]
    grammar = constraint.scoped.next_piece(text)
    return any(_closes(task, text + m, depth - 1) for m in moves if accepts(grammar, m))


def test_the_bincount_answer_that_was_stuck_can_end_now():
    """The all-task run's bincount answer (the checker's): its callback computed values it never used and
    stored at indices it had used, until its 12 instructions were spent: no piece could follow. The
    grammar now refuses one of those instructions, and from there the program can still end."""
    task = TASKS["bincount"]
    grammar = task_constraint(task, "server").scoped
    answer = grammar.prefix + (
        "\n  traversal tu0 = dense [0, num_indices)\n  stream i = induction tu0\n  stream r = load indices[i] @tu0"
        "\n  on tu0.iter: push q_i <- i, q_r <- r; token ITEM\nqueues:\n  queue q_i: scalar i64"
        "\n  queue q_r: scalar i64\nexecute:\n  callback ITEM:\n    %r = pop q_r\n    %y = mul %r, 2.0"
        "\n    %sq = mul %r, %r\n    %a = add %sq, %sq\n    %b = add %a, %a\n    %c = add %b, %b"
        "\n    %d = add %c, %c\n    %e = add %c, %c\n    %i = pop q_i\n    store_max counts[%b] max= %c"
        "\n    store_max counts[%c] max= %r\n    store_max counts[%d] max= %d")
    written = _written(grammar, pieces(answer, grammar.prefix))
    assert written != answer and _closes(task, written, 4)


_DEAD_ENDS = json.loads((Path(__file__).parent / "dead_end_answers.json").read_text())["answers"]


def _written(grammar, answer_pieces: list[str]) -> str:
    """The grammar's prefix and the answer's pieces up to the first the piece grammars refuse."""
    written = grammar.prefix
    for piece in answer_pieces:
        if not accepts(grammar.next_piece(written), piece):
            break
        written += piece
    return written


def _walk(answer: dict):
    """The piece grammars of ``answer``'s task, and how far they write the answer (in today's given names):
    its pieces up to the first they refuse (a rule line cut before its token counts its items as pieces)."""
    grammar = task_constraint(TASKS[answer["task"]], "server").scoped
    text = answer["text"] if answer["names_given"] else _in_given_names(answer["text"])
    head, _, last = text.rstrip("\n").rpartition("\n")
    if last.startswith("  on ") and " token " not in last:
        rule, _, items = last.partition(": push ")
        cut = ["\n" + rule + ":"] + [(", " if n else " push ") + item for n, item in enumerate(items.split(", ")) if items]
        written_pieces = pieces(head + "\n", grammar.prefix) + cut
    else:
        written_pieces = pieces(text.rstrip("\n") + "\n", grammar.prefix)
    return grammar, _written(grammar, written_pieces)


@pytest.mark.parametrize("answer", _DEAD_ENDS, ids=lambda a: f"{a['task']}-{a['seed']}")
def test_no_recorded_dead_end_is_one_now(answer):
    """Answers of the recorded scoped runs that stopped before the token cap where no piece could follow (19
    of 134 in the run of the transcript: a rule begun for a token whose other queues no stream was left for,
    ``push q_t2 <- i``; streams nothing could push any more once every event sent every token; a row value
    left unused when the first store came, with no store that takes a row): where today's grammars stop
    writing each, a piece can follow."""
    grammar, written = _walk(answer)
    assert grammar.next_piece(written) is not None


@pytest.mark.parametrize("seed", [0, 1])
def test_the_gather_relu_answers_that_were_stuck_can_end_now(seed):
    """Both gather_relu answers of the morning's scoped run stopped at a dead end: the callback stored with
    store_max at its only index, which the agent's check does not count as storing the output, and a store
    there was refused as a repeat; one had spent its 12 instructions. Now a store_max does not stand for the
    store a callback leaves room for, and only the same store op is not repeated at the same indices: from
    where the grammar stops the answer, a program that passes every static check can still be written."""
    answer = next(a for a in _DEAD_ENDS if a["task"] == "gather_relu" and a["seed"] == seed)
    assert _closes(TASKS["gather_relu"], _walk(answer)[1], 3)


def _in_given_names(text: str) -> str:
    """A recorded answer in the names the piece grammars give now (it was written before they gave them): a
    stream that goes on from an earlier name with ``_`` or a digit, or whose name says ``row`` where it loads
    none (or not where it does), becomes ``sa``, ``sb``, ... (``rowa``, ...); each queue is named after its
    first stream and each pop after its queue; other values become ``va``, ``vb``, ...."""
    streams: dict[str, str] = {}
    for name, kind in re.findall(r"stream (\w+) = (\w+)", text):
        extends = any(re.fullmatch(re.escape(old) + r"[_0-9]\w*", name) for old in streams)
        misnamed = extends or name.startswith("row") != (kind == "load_row")
        streams[name] = ("row" if kind == "load_row" else "s") + _LETTERS[len(streams)] if misnamed else name
    queues: dict[str, str] = {}
    for queue, stream in re.findall(r"(\w+) <- (\w+)", text):
        queues.setdefault(queue, queue_name(streams[stream], queues.values()))
    values: dict[str, str] = {}
    for value, queue in re.findall(r"%(\w+) = (?:pop (\w+))?", text):
        values[value] = pop_value(queues[queue]) if queue else f"v{_LETTERS[len(values)]}"
    names = {**streams, **queues}
    text = re.sub(r"(?<![%\w])(?<!: )\w+\b", lambda m: names.get(m.group(0), m.group(0)), text)   # (: row f32)
    return re.sub(r"%(\w+)", lambda m: "%" + values.get(m.group(1), m.group(1)), text)


@pytest.mark.parametrize("name, access, junk", [
    ("gather_relu", "\n  stream r = load indices[i] @tu0\n  stream row = load_row table[r] @tu0"
                    "\n  on tu0.iter: push q_row <- row; token ITEM\nqueues:\n  queue q_row: row f32", "max %row, 1.0"),
    ("bincount", "\n  stream r = load indices[i] @tu0\n  on tu0.iter: push q_i <- i, q_r <- r; token ITEM"
                 "\nqueues:\n  queue q_i: scalar i64\n  queue q_r: scalar i64", "add %r, %r"),
])
def test_a_callback_can_always_still_end(name, access, junk):
    """SmolLM2 computed ``max %i, 1.0`` again and again in a callback until its 12 instructions were spent,
    with nothing stored and its values unused, and in bincount stored at indices it had used already while
    values stayed unused: no piece could follow (found by the real run). Now an instruction must use
    values nothing uses yet where the room left asks for it: whatever junk is written while the grammar
    allows it, a program that passes every static check can still be written."""
    task = TASKS[name]
    grammar = task_constraint(task, "server").scoped
    output = task.outputs[0].name
    text = grammar.prefix + "\n  traversal tu0 = dense [0, num_indices)\n  stream i = induction tu0" + access
    pops = "".join(f"\n    %{q[2:]} = pop {q}" for q in re.findall(r"queue (\w+)", text))
    text += "\nexecute:\n  callback ITEM:" + pops
    junk_lines = 0
    while accepts(grammar.next_piece(text), f"\n    %j{_LETTERS[junk_lines]} = {junk}"):
        text += f"\n    %j{_LETTERS[junk_lines]} = {junk}"
        junk_lines += 1
    assert 0 < junk_lines < 11

    assert _closes(task, text, 5)
    rng = random.Random(0)      # and from wherever a walk of any instruction the grammar allows leads
    for _ in range(20):
        walk = text.rsplit("\n    %j", junk_lines)[0] if junk_lines > 1 else text
        for step in range(12):
            names = re.findall(r"%(\w+) =", walk.split("callback ITEM:")[1])
            moves = [f"\n    %w{_LETTERS[step]} = {junk}", f"\n    %w{_LETTERS[step]} = count"]
            moves += [f"\n    store {output}[%{n}] = %{v}" for n in names for v in names]
            moves += [f"\n    %w{_LETTERS[step]} = max %{a}, %{b}" for a in names for b in names if a != b]
            allowed = [m for m in moves if accepts(grammar.next_piece(walk), m)]
            if not allowed:
                break
            walk += rng.choice(allowed)
            assert _closes(task, walk, 4), walk
