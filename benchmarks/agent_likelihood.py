"""How likely the local model is to write each task's expert program under scoped decoding, with round 0's
prompt and temperature (``dae_agent.likelihood``): where the model parts from a right program, and by how
much, measured without sampling. While sampling solves no task, this is the measure that tells whether a
change to the prompt or the grammars helps.

    python benchmarks/agent_likelihood.py                                   # every task, SmolLM2
    python benchmarks/agent_likelihood.py --tasks gather_rows,bag_sum --choices 8

Each task's line gives the log-probability of writing its expert program (names aside: the model's own
names are taken) and its costliest choices: the line so far, the token the program takes there, and the
model's preferred token. The last line sums the probabilities over the tasks: how many tasks one call each
would solve by writing exactly these programs (other right programs exist, so more could be solved).
"""
from __future__ import annotations

import argparse
import math
import sys
import time

from dae_agent.agent import PAPER_TEMPERATURE
from dae_agent.cli import MODEL_HELP
from dae_agent.grammar import task_constraint
from dae_agent.models import Decoding, load_model
from dae_agent.prompt import build_messages
from dae_agent.tasks import select
from dae_emulator import format_program, parse_program


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local", help=MODEL_HELP + " (a model run in-process)")
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--temperature", type=float, default=PAPER_TEMPERATURE)
    parser.add_argument("--device", default="server")
    parser.add_argument("--choices", type=int, default=3, help="costliest choices shown per task")
    args = parser.parse_args(argv)
    try:
        tasks = select(args.tasks)
        model = load_model(args.model, decoding=Decoding.SCOPED)
    except (ValueError, OSError) as error:      # the user's arguments: unknown task or model, missing file
        parser.error(str(error))
    if not hasattr(model, "likelihood"):
        parser.error(f"{args.model}: the likelihood needs a model run in-process (local or path:)")
    total = 0.0
    for task in tasks:
        start = time.perf_counter()
        program = format_program(parse_program(task.expert))
        found = model.likelihood(build_messages(task, []), program, args.temperature,
                                 task_constraint(task, args.device))
        if found is None:
            print(f"{task.name:24s} the piece grammars refuse its expert program", flush=True)
            continue
        total += math.exp(found.log_p)
        worst = "; ".join(f"{c.line.strip() or '(new line)'!r} takes {c.token!r} at {c.log_p:.1f} (prefers {c.preferred!r})"
                          for c in found.worst(args.choices))
        print(f"{task.name:24s} log P {found.log_p:8.2f}  {time.perf_counter() - start:4.0f} s  {worst}", flush=True)
    print(f"expected tasks solved by one call each, writing these programs: {total:.3g} "
          f"(model {model.name}, temperature {args.temperature})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
