"""Single call vs agent vs self-improved agent on the dae_agent benchmark, with modeled cycles of the best
verified program against the expert program and the compiler's program.

    python benchmarks/agent_compare.py --model local --tasks gather_rows,bag_sum --samples 1

The agent runs in the paper's setting unless switched (``--no-checker``, ``--repair K``, ``--speed K``, ...:
the options of ``python -m dae_agent run``, from ``dae_agent.cli``).

The compiler's cycles are those of the program the backend compiles by default (``opt_level`` 3), shown
only for tasks whose compiled program (torch_ember.pipeline.compile_region) passes that task's verifier, so the columns compare programs that compute the same thing. The last line is
``self-improved/single tasks solved: A/B (model M, T tasks)``.
"""
from __future__ import annotations

import argparse
import sys

import dae_emulator
from dae_agent.agent import Agent
from dae_agent.cli import add_config_arguments, config_from_arguments
from dae_agent.models import load_model
from dae_agent.report import JsonlLog, results_table
from dae_agent.tasks import TASKS, select
from dae_agent.verifier import verify
from torch_ember.options import EmberOptions
from torch_ember.pipeline import compile_region
from torch_ember.programs.agent import TASK_DTYPES, TASK_REGIONS

DTYPES, REGIONS = TASK_DTYPES, TASK_REGIONS


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
    parser.add_argument("--model", default="local", help="local, local:FOLDER[:GGUF], http:MODEL or replay:PATH")
    parser.add_argument("--tasks", default="all")
    add_config_arguments(parser)
    parser.add_argument("--log", default="agent_compare_attempts.jsonl")
    args = parser.parse_args(argv)
    tasks = select(args.tasks)
    model = load_model(args.model, args.max_tokens)
    config = config_from_arguments(args)
    result = Agent(model, config, JsonlLog(args.log)).run(
        tasks, lambda task, rnd: print(f"round {rnd}: {task.name} done", file=sys.stderr, flush=True))
    print(results_table(result, compiler_cycles(args.device)))
    print(f"self-improved/single tasks solved: {len(result.solved())}/{len(result.solved(single=True))} "
          f"(model {result.model}, {len(tasks)} tasks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
