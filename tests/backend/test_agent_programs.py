"""``options={"agent_library": path}``: a verified dae_agent program runs instead of the compiled one when
it models fewer cycles; results stay equal to eager either way."""
import json

import pytest
import torch
import torch.nn as nn
from dae_agent.switch import faster_program
from dae_agent.tasks import TASKS
from dae_emulator.program import DType
from dae_emulator.text import format_program
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import RegionSpec
from torch_ember.programs.agent import TASK_DTYPES, TASK_REGIONS, task_for
from torch_ember.options import Knobs
from torch_ember.programs import compiled_program

import dae_emulator

pytestmark = pytest.mark.slow


def test_every_task_region_maps_back_to_its_task():
    for task, spec in TASK_REGIONS.items():
        assert task in TASKS
        assert task_for(RegionSpec(**{**spec.__dict__, "table": "emb.weight"}), {"table": DType.F32}) == task
    assert task_for(TASK_REGIONS["bag_sum"], {"table": DType.F16}) is None


@pytest.mark.parametrize("task", ["bag_sum", "gather_rows"])
def test_library_program_is_used_exactly_when_it_models_faster(task, tmp_path):
    library = tmp_path / "library.json"
    library.write_text(json.dumps({task: TASKS[task].expert}))
    spec = TASK_REGIONS[task]
    names = {"bag_sum": ("table", "indices", "offsets"), "gather_rows": ("table", "indices")}[task]
    dtypes = tuple(sorted((n, TASK_DTYPES[n]) for n in names))
    compiled = compile_region(spec, dict(dtypes), dae_emulator.preset("server"), 3)
    faster = faster_program(task, format_program(compiled.dae), library, "server") is not None
    chosen = compiled_program(spec, dtypes, dae_emulator.preset("server"), 3, Knobs(), str(library))
    assert chosen.source == ("agent" if faster else "compiler")


def test_compiled_model_with_an_agent_library_matches_eager(tmp_path):
    library = tmp_path / "library.json"
    library.write_text(json.dumps({"bag_sum": TASKS["bag_sum"].expert}))
    torch.manual_seed(0)
    bag = nn.EmbeddingBag(40, 8, mode="sum")
    f = torch.compile(bag, backend="ember", options={"rest": "eager", "agent_library": str(library)})
    i, o = torch.randint(0, 40, (25,)), torch.tensor([0, 4, 4, 19])
    torch.testing.assert_close(f(i, o), bag(i, o))
