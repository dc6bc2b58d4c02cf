"""benchmarks/agent_compare.py compares the agent's programs with what the backend really compiles."""
import importlib.util
from pathlib import Path

import dae_emulator
from dae_agent.tasks import TASKS
from dae_agent.verifier import verify
from torch_ember.options import EmberOptions
from torch_ember.pipeline import compile_region
from torch_ember.programs.agent import TASK_DTYPES, TASK_REGIONS

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "agent_compare.py"


def _load():
    spec = importlib.util.spec_from_file_location("agent_compare", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
