"""``python -m dae_agent run --model M --tasks ... --samples N``: run the agent and print the results table;
``--log PATH`` writes every attempt there (JSON lines), nothing is written unasked. The defaults are the
paper's setting; ``--no-checker``, ``--repair K``, ``--speed K`` and the others in ``dae_agent.cli`` switch
parts off or on. ``--record PATH`` saves the model's raw answers as a replay transcript. A mistake in the
arguments (an unknown task, model or file) is one line on stderr and exit status 2."""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from .agent import Agent
from .cli import (add_config_arguments, add_model_arguments, config_from_arguments, model_from_arguments,
                  transcript_header)
from .models import Recorder
from .report import JsonlLog, results_table
from .switch import save_library
from .tasks import select


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dae_agent")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent on tasks")
    add_model_arguments(run)
    run.add_argument("--tasks", default="all", help="comma list of task or group names")
    add_config_arguments(run)
    run.add_argument("--log", help="write every attempt here, one JSON object per line")
    run.add_argument("--record", help="save the model's answers as a replay transcript here")
    run.add_argument("--save-library", help="save the fastest verified program per task here (JSON), for the "
                                            "compiler's switch (dae_agent.switch.faster_program)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        tasks = select(args.tasks)
        model = model_from_arguments(args)
    except (ValueError, OSError) as error:      # the user's arguments: unknown task or model, missing file
        print(f"python -m dae_agent: error: {error}", file=sys.stderr)
        return 2
    if args.record:
        model = Recorder(model)
    config = config_from_arguments(args)
    bar = tqdm(total=len(tasks), desc="round 0", unit="task", file=sys.stderr)
    log = JsonlLog(args.log) if args.log else None
    solved: set[str] = set()

    def on_attempt(attempt):
        if log is not None:
            log(attempt)
        if attempt.passed:
            solved.add(attempt.task)

    def progress(task, rnd):
        bar.set_description(f"round {rnd}")
        bar.set_postfix(solved=f"{len(solved)}/{len(tasks)}")
        bar.update(1)

    result = Agent(model, config, on_attempt).run(tasks, progress)
    bar.close()
    if args.record:
        command = " ".join(["python -m dae_agent"] + (argv or sys.argv[1:]))
        model.save(args.record, **transcript_header(config, [t.name for t in tasks], model.model, args.decoding,
                                                    args.grammar_field, command),
                   note="raw answers of a real model run, recorded by dae_agent's Recorder; replayed by tests")
    if args.save_library:
        save_library(result.library, args.save_library)
    print(results_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
