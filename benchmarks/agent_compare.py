"""Single call vs agent vs self-improved agent on the dae_agent benchmark, with modeled cycles of the best
verified program against the expert program and the compiler's program, decoding free and then constrained
(``--runs``: free, under each task's grammar, and one piece at a time under piece grammars that grow with
the program, ``dae_agent.scoped_decoding``), in one run.

    python benchmarks/agent_compare.py --model local --tasks gather_rows,bag_sum --samples 1
    python benchmarks/agent_compare.py --model local --record transcripts/    # keep each run's answers

The agent runs in the paper's setting unless switched (``--no-checker``, ``--repair K``, ``--speed K``, ...:
the options of ``python -m dae_agent run``, from ``dae_agent.cli``).

The compiler's cycles are those of the program the backend compiles by default (``opt_level`` 3), shown
only for tasks whose compiled program (torch_ember.pipeline.compile_region) passes that task's verifier, so
the columns compare programs that compute the same thing. The last line is
``self-improved/single tasks solved: A/B (model M, D decoding, T tasks)``, for the last run.
"""
from __future__ import annotations

import argparse
import functools
import sys

import dae_emulator
from dae_agent.agent import Agent
from pathlib import Path

from dae_agent.cli import add_config_arguments, add_model_arguments, config_from_arguments, transcript_header
from dae_agent.models import Decoding, Recorder, load_model
from dae_agent.report import JsonlLog, attempt_row, outcome, results_table
from dae_agent.tasks import TASKS, select
from dae_agent.verifier import verify
from torch_ember.options import EmberOptions
from torch_ember.pipeline import compile_region
from torch_ember.programs.agent import TASK_DTYPES, TASK_REGIONS

DTYPES, REGIONS = TASK_DTYPES, TASK_REGIONS
DECODING_WORDS = {Decoding.FREE: "free", Decoding.GRAMMAR: "constrained to each task's grammar",
                  Decoding.SCOPED: "one piece at a time, under piece grammars grown from the program"}


def compiler_cycles(device: str) -> dict[str, float]:
    """Modeled cycles of the compiler's program for each task it lowers and gets right."""
    cycles = {}
    for name, spec in REGIONS.items():
        compiled = compile_region(spec, DTYPES, dae_emulator.preset(device), EmberOptions().opt_level)
        program = dae_emulator.format_program(compiled.dae)
        verdict = verify(TASKS[name], program, device)
        if verdict.passed:
            cycles[name] = verdict.cycles
    return cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser, decoding=False)
    parser.add_argument("--tasks", default="all")
    add_config_arguments(parser)
    parser.add_argument("--log", default="agent_compare_attempts.jsonl",
                        help="every attempt of every run, one JSON line each, naming its run ('decoding')")
    parser.add_argument("--runs", nargs="+", type=Decoding, choices=list(Decoding),
                        default=[Decoding.FREE, Decoding.SCOPED], metavar="DECODING",
                        help="which runs, in order: free, grammar (the task's whole grammar), scoped (piece "
                             "grammars that grow with the program); default: free scoped")
    parser.add_argument("--record", help="a folder: each run's model answers saved there as a replay transcript "
                                         "(free.json, scoped.json, ...)")
    args = parser.parse_args(argv)
    try:
        tasks = select(args.tasks)
    except ValueError as error:                 # an unknown task or group: the user's words, one line
        parser.error(str(error))
    config = config_from_arguments(args)
    cycles = compiler_cycles(args.device)
    log = JsonlLog(args.log) if args.log else None        # one file for every run, each row naming its run
    for decoding in args.runs:
        label = decoding.value
        model = load_model(args.model, args.max_tokens, decoding, args.grammar_field)
        model = Recorder(model) if args.record else model
        result = Agent(model, config, log and functools.partial(log, decoding=label)).run(
            tasks, lambda task, rnd: print(f"{label}, round {rnd}: {task.name} done", file=sys.stderr, flush=True))
        if args.record:
            Path(args.record).mkdir(parents=True, exist_ok=True)
            command = " ".join(["python benchmarks/agent_compare.py"] + (argv or sys.argv[1:]))
            model.save(Path(args.record) / f"{label}.json",
                       **transcript_header(config, [t.name for t in tasks], model.model, decoding, args.grammar_field,
                                           command),
                       outcome=outcome([attempt_row(a) for a in result.attempts]),
                       note="raw answers of a real model run by benchmarks/agent_compare.py; replayed by tests")
        print(f"decoding {DECODING_WORDS[decoding]}:")
        print(results_table(result, cycles))
        print(f"self-improved/single tasks solved: {len(result.solved())}/{len(result.solved(single=True))} "
              f"(model {result.model}, {decoding.value} decoding, {len(tasks)} tasks)", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
