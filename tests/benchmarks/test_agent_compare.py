"""benchmarks/agent_compare.py compares the agent's programs with what the backend really compiles."""
import json
from pathlib import Path

import benchmark_script          # tests/benchmarks/benchmark_script.py
import dae_emulator
from dae_agent.tasks import TASKS
from dae_agent.verifier import verify
from torch_ember.options import EmberOptions
from torch_ember.pipeline import compile_region
from torch_ember.programs.agent import TASK_DTYPES, TASK_REGIONS


def _load():
    return benchmark_script.load("agent_compare")


def test_compiler_cycles_are_those_of_the_backends_default_level():
    cycles = _load().compiler_cycles("server")
    assert cycles, "no task's compiled program verified"
    name = "bag_sum" if "bag_sum" in cycles else next(iter(cycles))
    device = dae_emulator.preset("server")
    default = compile_region(TASK_REGIONS[name], TASK_DTYPES, device, EmberOptions().opt_level)
    unoptimized = compile_region(TASK_REGIONS[name], TASK_DTYPES, device, 0)
    want = verify(TASKS[name], dae_emulator.format_program(default.dae), "server").cycles
    assert cycles[name] == want
    assert want < verify(TASKS[name], dae_emulator.format_program(unoptimized.dae), "server").cycles


def test_the_log_keeps_every_runs_attempts_each_naming_its_run(tmp_path, capsys):
    """Each run emptied the log as it began, so a log of ``--runs free scoped`` held the scoped run alone."""
    transcript = Path(__file__).parents[1] / "dae_agent" / "transcripts" / "smollm2_paper_gather_rows_bag_sum.json"
    log = tmp_path / "log.jsonl"
    assert _load().main(["--model", f"replay:{transcript}", "--tasks", "gather_rows", "--samples", "2",
                         "--max-tokens", "96", "--runs", "free", "grammar", "--log", str(log)]) == 0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["decoding"] for r in rows] == ["free"] * 2 + ["grammar"] * 2
    assert {r["task"] for r in rows} == {"gather_rows"} and [r["sample"] for r in rows] == [0, 1, 0, 1]
    assert capsys.readouterr().out.count("self-improved/single tasks solved:") == 2
