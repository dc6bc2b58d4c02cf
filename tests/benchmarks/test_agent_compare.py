"""benchmarks/agent_compare.py compares the agent's programs with what the backend really compiles."""
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
