"""Decoding one piece at a time (``dae_agent.scoped_decoding``), with a stand-in model that writes noisy copies
of a task's expert program over a small vocabulary whose tokens join spaces, names and separators as a BPE
vocabulary does: whatever it samples, an answer that ends is a program that passes every static check,
every answer is text the task's grammar allows, and the same seed gives the same answer."""
from __future__ import annotations

import pytest
import torch

from dae_agent.grammar import task_constraint
from dae_agent.scoped_decoding import PieceDecoder, decode, sample
from dae_agent.tasks import TASKS
from dae_agent.verifier import Stage, verify

from stand_in_model import EOS, VOCAB, NoisyCopyModel, Tokenizer    # tests/dae_agent/stand_in_model.py

xgr = pytest.importorskip("xgrammar")
_COMPILER = xgr.GrammarCompiler(xgr.TokenizerInfo(VOCAB, stop_token_ids=[EOS]))


def _answer(name: str, seed: int, cap: int = 900) -> tuple[str, bool]:
    constraint = task_constraint(TASKS[name], "server")
    torch.manual_seed(seed)
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(VOCAB))
    model = NoisyCopyModel(TASKS[name].expert.strip(), 3, seed)
    text, _, ended = decode(model, Tokenizer(), torch.zeros(1, 3, dtype=torch.long), decoder, 1.0, cap)
    return text, ended


def test_an_answer_passes_the_static_checks_where_it_ends_and_stays_in_the_tasks_grammar():
    ended = 0
    for name in ("gather_rows", "bag_sum", "scatter_add_weighted"):
        task = TASKS[name]
        grammar = xgr.GrammarCompiler(xgr.TokenizerInfo([chr(c) for c in range(32, 127)] + ["\n"])).compile_grammar(
            task_constraint(task, "server").text)
        for seed in range(8):
            text, end = _answer(name, seed)
            assert xgr.GrammarMatcher(grammar).accept_string(text), text    # a prefix of a program of the grammar
            if end:         # not cut at the cap: it ended where every static check passes
                ended += 1
                assert verify(task, text, "server").stage in (Stage.RUNTIME, Stage.MISMATCH, Stage.PASSED), text
    assert ended >= 2


def test_an_answer_ends_where_the_program_is_first_complete():
    constraint = task_constraint(TASKS["gather_rows"], "server")
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(VOCAB))
    assert not decoder.allowed(EOS)[1].any()
    expert = TASKS["gather_rows"].expert.strip()
    decoder.text = expert.rsplit("\n", 1)[0]                 # all but the store: out is never stored
    decoder.current = None
    assert not decoder.allowed(EOS)[1].any()
    decoder.text = expert
    mask, ending = decoder.allowed(EOS)
    assert ending[EOS] and ending[VOCAB.index("\n    ")] and (ending <= mask).all()


def test_a_name_that_goes_on_past_a_complete_program_is_written_whole():
    """``store out[%i] = %i`` already passes the checks; the model writing ``%ix`` goes on to write it."""
    expert = TASKS["gather_dot"].expert.strip().replace("%d", "%ix")
    constraint = task_constraint(TASKS["gather_dot"], "server")
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(VOCAB))
    model = NoisyCopyModel(expert, 3, 0, noise=0.0)
    text, _, ended = decode(model, Tokenizer(), torch.zeros(1, 3, dtype=torch.long), decoder, 0.0, 900)
    assert ended and text == expert and constraint.complete(expert.removesuffix("x") + "\n")


def test_a_model_that_would_write_on_is_stopped_at_the_complete_program():
    """SmolLM2 wants one more instruction after a complete gather; the answer ends there all the same."""
    class GoesOn(NoisyCopyModel):
        def __call__(self, input_ids, **kw):
            out = super().__call__(input_ids, **kw)
            if Tokenizer().decode(self.seen[self.prompt_tokens:]) == self.target:
                out.logits[0, 0, EOS] = -50.0
                out.logits[0, 0, VOCAB.index("\n    ")] = 50.0
            return out

    constraint = task_constraint(TASKS["gather_rows"], "server")
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(VOCAB))
    model = GoesOn(TASKS["gather_rows"].expert.strip(), 3, 0, noise=0.0)
    text, _, ended = decode(model, Tokenizer(), torch.zeros(1, 3, dtype=torch.long), decoder, 0.0, 900)
    assert ended and text == TASKS["gather_rows"].expert.strip()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_no_expert_program_is_complete_before_its_last_line(name):
    """Why ending at the first complete point cuts no task's program short."""
    constraint = task_constraint(TASKS[name], "server")
    lines = TASKS[name].expert.strip().split("\n")
    first = lines.index("execute:")
    assert constraint.complete("\n".join(lines) + "\n")
    assert not [line for k, line in enumerate(lines[first:-1], first)
                if constraint.complete("\n".join(lines[:k + 1]) + "\n")]


def test_a_token_the_grammar_forces_costs_no_model_step():
    """Jump-forward: where the grammar leaves one token, the model is not asked; it reads the forced tokens
    with the next one it chooses, in one step."""
    constraint = task_constraint(TASKS["gather_rows"], "server")
    torch.manual_seed(0)
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(VOCAB))
    model = NoisyCopyModel(TASKS["gather_rows"].expert.strip(), 3, 0, noise=0.0)
    calls = []
    counting = lambda input_ids, **kw: calls.append(input_ids.shape[1]) or model(input_ids, **kw)  # noqa: E731
    text, written, ended = decode(counting, Tokenizer(), torch.zeros(1, 3, dtype=torch.long), decoder, 0.0, 900)
    assert ended and text == TASKS["gather_rows"].expert.strip()
    prefix = len(constraint.scoped.prefix)
    # every token read at most once (those forced after the last choice are never read: the answer ends)
    assert sum(calls) <= 3 + written and calls[0] == 3 + prefix
    assert len(calls) < written - prefix                                   # fewer steps than tokens written


def test_the_same_seed_gives_the_same_answer():
    assert _answer("gather_rows", 3) == _answer("gather_rows", 3)


def test_sampling_keeps_to_the_mask_and_the_top_p_head():
    logits = torch.tensor([5.0, 4.0, -1.0, 0.0])
    mask = torch.tensor([False, True, True, True])
    assert sample(logits, mask, 0.0) == 1
    torch.manual_seed(0)
    assert {sample(logits, mask, 0.5) for _ in range(50)} == {1}      # the masked best is out; 1 holds > 95%
