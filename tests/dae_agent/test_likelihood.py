"""The likelihood of a program under scoped decoding (``dae_agent.likelihood``), with the stand-in model: a
model that writes the program has it at log-probability near 0, under any names of its own; one that
prefers another loop pays for it first at that choice."""
from __future__ import annotations

import pytest
import torch

from dae_agent.grammar import task_constraint
from dae_agent.likelihood import NameKind, likelihood, template
from dae_agent.tasks import TASKS
from dae_agent.verifier import verify

from stand_in_model import EOS, VOCAB, NoisyCopyModel, Tokenizer    # tests/dae_agent/stand_in_model.py

xgr = pytest.importorskip("xgrammar")
_COMPILER = xgr.GrammarCompiler(xgr.TokenizerInfo(VOCAB, stop_token_ids=[EOS]))
EXPERT = TASKS["gather_rows"].expert.strip()


def _likelihood(prefers: str, program: str = EXPERT):
    model = NoisyCopyModel(prefers, 3, 0, noise=0.0)
    return likelihood(model, Tokenizer(), _COMPILER.compile_grammar, task_constraint(TASKS["gather_rows"], "server"),
                      len(VOCAB), torch.zeros(1, 3, dtype=torch.long), program, 0.5)


def test_the_names_the_model_chooses_become_placeholders_and_kinds_stay():
    text, kinds = template(EXPERT)
    assert kinds == (NameKind.TRAVERSAL, NameKind.STREAM, NameKind.STREAM, NameKind.ROW_LOAD, NameKind.TOKEN)
    assert "load_row table[\x002\x00]" in text and "store out[%\x001\x00] = %\x003\x00" in text
    # a queue and its popped value are named after the stream
    assert "push q_\x001\x00 <- \x001\x00, q_\x003\x00 <- \x003\x00; token \x004\x00" in text
    assert "queue q_\x001\x00: scalar i64" in text and "%\x003\x00 = pop q_\x003\x00" in text


def test_a_model_that_writes_the_program_has_it_at_log_probability_near_zero():
    found = _likelihood(EXPERT)
    assert found.complete and found.text == EXPERT
    assert -1e-3 < found.log_p <= 0
    assert any(c.naming for c in found.choices) and any(not c.naming for c in found.choices)


def test_the_models_own_names_are_taken_and_not_counted():
    renamed = EXPERT.replace("stream r ", "stream j ").replace("[r]", "[j]").replace("ROW", "ITEM")
    found = _likelihood(renamed)
    assert found.text == renamed and -1e-3 < found.log_p <= 0


def test_a_model_that_prefers_another_loop_pays_at_that_choice():
    found = _likelihood(EXPERT.replace("dense [0, num_indices)", "dense [0, num_rows)"))
    worst = found.worst(1)[0]
    assert worst.line == "  traversal tu0 = dense [0, num_" and worst.token == "i" and worst.preferred == "r"
    before = found.choices[:found.choices.index(worst)]
    assert worst.log_p < -10 and sum(c.log_p for c in before) > -1     # (after it, the stand-in is lost)


@pytest.mark.parametrize("token", ["VALUE", "VALUESALLXYZ"])     # (a name of the most characters cannot go on)
def test_a_new_token_gets_a_new_name_where_the_model_would_reuse_one(token):
    """segment_sum's second rule pushes a new queue with a new token; SmolLM2 would name the token after the
    first rule's (the grammar lets a rule send a token it has), which is another program."""
    task = TASKS["segment_sum"]
    expert = task.expert.strip().replace("VALUE", token)
    merged = expert.replace("SEGMENT", token)
    model = NoisyCopyModel(merged, 3, 0, noise=0.0)
    found = likelihood(model, Tokenizer(), _COMPILER.compile_grammar, task_constraint(task, "server"), len(VOCAB),
                       torch.zeros(1, 3, dtype=torch.long), expert, 0.5)
    assert found is not None and found.complete and verify(task, found.text, "server").passed


def test_a_row_load_gets_a_row_name_where_the_model_would_give_it_another():
    """The grammar names a row load ``row...`` and no other stream so; SmolLM2 named moe_dispatch's row load
    ``token_ofx``, after which the walk found no way on (it takes the likeliest name the program can keep)."""
    found = _likelihood(EXPERT.replace("row", "x"))
    assert found is not None and found.complete and "stream row" in found.text
    assert verify(TASKS["gather_rows"], found.text, "server").passed
