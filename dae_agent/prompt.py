"""The prompts: the DAE language reference (every instruction with one small example), demonstrations and
the task for the proposer; the proposed program with the static legality findings for the checker (the
paper's second stage); the failed program with the verifier's message for a repair round; a verified
program with its cost record for a speed round.

The reference's one full example program (``prompts/double_rows.dae``) is deliberately not a benchmark task (it
reads no index), so no expert program ever reaches a prompt.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .tasks import Task

LANGUAGE_REFERENCE = """\
You write programs for a decoupled access-execute (DAE) device. An access unit walks loops, loads from
memory and pushes values into queues together with a token; an execute unit pops each token in order and
runs the callback named by it. A program has four parts, in this order.

1. Header and parameters (tensors in memory; sizes are symbols):
   program NAME
   param table: f32[num_rows, dim]          (an input)
   output out: f32[num_offsets - 1, dim]    (an output, starts as zeros)
   output best: f32[num_bags, dim] init -inf  (an output that starts as -inf, for store_max)
   dtypes: f32 f16 bf16 f64 i32 i64 bool

2. access: loops (traversal units), streams and push rules.
   traversal tu0 = dense [0, num_items)          loop over 0 .. num_items-1 (the outermost loop)
   traversal tu1 = range [lo, hi) in tu0         inner loop from stream lo to stream hi of tu0
   stream i = induction tu0                      the loop counter of tu0
   stream v = load values[i] @tu0                element load values[i] (1-d tensor)
   stream row = load_row table[r] @tu1           row load table[r, :] (2-d tensor)
   stream ahead = prefetch_row out[d] @tu0       bring row out[d, :] into the cache (no value, never pushed):
                                                 ahead of a store_add to out[d], it hides the read's latency
   stream n = alu add(i, 1) @tu0                 integer op: add sub mul div mod eq ne lt ge and
   stream e = alu mod(r, $num_experts) @tu0      $SIZE: a size symbol as an operand
   on tu1.iter: push q_row <- row; token ROW     each tu1 iteration: push, then send token ROW
   on tu0.end: push q_i <- i; token DONE         after tu0's iteration (and its inner loop) ended
   on tu0.iter when keep: push q_v <- v; token V only where stream keep is nonzero
   A stream may use streams of its own loop or of enclosing loops. Loops form one chain (tu1 in tu0,
   tu2 in tu1, ...).

3. queues: one line per queue; a row queue carries whole rows.
   queue q_row: row f32
   queue q_i: scalar i64
   queue q_v: row f32 x16                        x16: 16 elements per entry (pair it with 'lanes 16')

4. execute: accumulators, then one callback per token.
   acc total: sum f32[dim] init 0.0              vector sum accumulator (one value per column)
   acc best: max f32[dim] init -inf arg 0        max accumulator that also tracks an argument
   acc count: sum f32 init 0.0                   scalar accumulator (kinds: sum max min prod)
   callback ROW:
     %row = pop q_row                            pop one entry of a queue
     %y = mul %row, %w                           add sub mul div max min (elementwise, row or scalar)
     %c = gt %n, 0.0                             comparison
     %z = select %c, %a, 0.0                     select(cond, a, b)
     %d = dot %a, %b                             sum over a row of a * b
     %k = cast.f32 %n                            convert
     %n = count                                  how many times this callback ran before
     update total, %row                          total <- total + row (max acc: update best, %row, %r)
   callback DONE:
     %i = pop q_i
     %s = read total                             an accumulator's value (read_arg for its argument)
     store out[%i] = %s                          write a row or element
     store_add out[%i] += %s                     add into a row or element (repeated indices add up)
     store_max best[%i] max= %row                also store_min (min=) and store_mul (*=)
     store_add out[%i, %j] += %v                 one element of a 2-d output
     reset total                                 back to init; read only in a callback that resets
   callback ROW lanes 16 unroll 4:               faster: row ops on 16 vector lanes (1: scalar code), 4 tokens
                                                 per dispatch of the execute loop
   Rules: every queue is popped by exactly one callback, once per token; every rule sending a token pushes
   exactly the queues that token's callback pops; each %value is assigned once; only outputs are stored.

Full example (out[i, :] = 2 * x[i, :]):
""" + (Path(__file__).parent / "prompts" / "double_rows.dae").read_text(encoding="utf-8")

SYSTEM = "You write DAE device programs. Answer with the program text only."
CHECKER_SYSTEM = "You check DAE device programs and repair their legality. Answer with the program text only."


def task_text(task: Task) -> str:
    return (f"Task {task.name}: {task.description}\nThe program must declare exactly these parameters:\n"
            f"{task.signature()}\n")


def build_messages(task: Task, demos: list[tuple[Task, str]], failed: str | None = None,
                   feedback: str | None = None) -> list[dict[str, str]]:
    """Chat messages for one attempt; demonstrations are (task, verified program) pairs."""
    parts = [LANGUAGE_REFERENCE]
    for demo_task, program in demos:
        parts.append(f"Solved example. {task_text(demo_task)}Program:\n{program.strip()}\n")
    parts.append(task_text(task) + "Write the program.")
    if failed is not None:
        parts.append(f"Your previous program:\n{failed.strip()}\nThe verifier said: {feedback}\nWrite a corrected "
                     f"program.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def checker_messages(task: Task, proposed: str, findings: str) -> list[dict[str, str]]:
    """The checking stage: the proposer's program and what the static legality check found in it; the
    checker returns the program with its legality repaired."""
    shown = proposed.strip() or "(the proposer's answer held no program)"
    parts = [LANGUAGE_REFERENCE, task_text(task) + f"A proposed program:\n{shown}\n",
             f"Static legality check: {findings}\nCheck the program against the rules above and return it with "
             f"every legality problem repaired; keep what is already right."]
    return [{"role": "system", "content": CHECKER_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def speed_messages(task: Task, program: str, cost: str) -> list[dict[str, str]]:
    """A speed round: a verified program with its modeled cost record; the answer should be faster."""
    parts = [LANGUAGE_REFERENCE, task_text(task) + f"A verified program:\n{program.strip()}\n",
             f"Its modeled cost on the device: {cost}\nWrite a faster program that computes the same outputs."]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def prompt_hash(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16]


def extract_program(answer: str) -> str:
    """The program in a model's answer: a fenced block if there is one, from its ``program`` line on."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", answer, re.S)
    text = max(fenced, key=len) if fenced else answer
    start = re.search(r"^\s*program \w+", text, re.M)
    return text[start.start():].strip() + "\n" if start else ""
