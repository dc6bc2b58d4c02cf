"""Decoding one piece at a time (``dae_agent.scoped_decoding``), with a stand-in model that writes noisy copies
of a task's expert program over a small vocabulary whose tokens join spaces, names and separators as a BPE
vocabulary does: whatever it samples, an answer that ends is a program that passes every static check,
every answer is text the task's grammar allows, and the same seed gives the same answer."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dae_agent.grammar import task_constraint
from dae_agent.scoped_decoding import PieceDecoder, decode, sample
from dae_agent.tasks import TASKS
from dae_agent.verifier import Stage, verify

xgr = pytest.importorskip("xgrammar")
_WORDS = ["\n", "\n ", "\n  ", "\n   ", "\n    ", "\n\n", " ", "  ", ",", ", ", ";", ":", "=", " =", "[", "]", "(", ")",
          "%", " %", "@", "<-", " <-", "_", ".", "0", "1", "2", "-", "$", " push", " token", " stream", " on", "on",
          "stream", "callback", " callback", "queue", " queue", "execute", "queues", "store", " store", "pop", " pop",
          "mul", " mul", "add", "update", " update", "read", " read", "reset", " reset", "load", "load_row", "_row",
          " load", " load_row", "induction", " induction", "alu", "traversal", " traversal", "dense", " dense",
          "range", " range", "in", " in", "iter", "end", "scalar", " scalar", "row", " row", "i64", " i64", "f32",
          " f32", "tu0", "tu1", " tu0", "q_", "q_i", "q_row", "ROW", "ITEM", "BAG", "i", "r", "b", "j", "lo", "hi",
          "x", "y", "total", "table", "indices", "offsets", "out", "num_indices", "num_offsets", "sum", " sum",
          "acc", " acc", "init", " init", "0.0", " 0.0", "dim", "lanes", "unroll", "```"]
_VOCAB = sorted(set(_WORDS + [chr(c) for c in range(32, 127)])) + ["<eos>"]
EOS = len(_VOCAB) - 1


class Tokenizer:
    eos_token_id = EOS

    def __len__(self):
        return len(_VOCAB)

    def decode(self, ids):
        return "".join(_VOCAB[i] for i in ids if i != EOS)

    def encode(self, text, add_special_tokens=False):
        return [_VOCAB.index(c) for c in text]          # one character a token: the prefix is given


class NoisyCopyModel:
    """Scores each token by whether it continues ``target`` (the expert program) from the answer so far,
    plus seeded noise: it writes near-copies of the program, wandering off where the noise wins."""

    def __init__(self, target: str, prompt_tokens: int, seed: int, noise: float = 3.0):
        self.target, self.prompt_tokens, self.noise = target, prompt_tokens, noise
        self.generator = torch.Generator().manual_seed(seed)
        self.seen: list[int] = []

    def __call__(self, input_ids, cache=None, use_cache=True):
        self.seen += input_ids[0].tolist()
        text = Tokenizer().decode(self.seen[self.prompt_tokens:])
        follows = self.target.startswith(text)
        if follows:
            scores = torch.tensor([12.0 if self.target.startswith(text + w) else 0.0 for w in _VOCAB])
            scores[EOS] = 12.0 if text == self.target else 0.0
        else:           # off the program: towards ending the line and the answer
            scores = torch.tensor([6.0 if w.startswith("\n") else 0.0 for w in _VOCAB])
            scores[EOS] = 12.0
        scores += self.noise * torch.randn(len(_VOCAB), generator=self.generator)
        return SimpleNamespace(logits=scores.view(1, 1, -1), cache=None)


_COMPILER = xgr.GrammarCompiler(xgr.TokenizerInfo(_VOCAB, stop_token_ids=[EOS]))


def _answer(name: str, seed: int, cap: int = 900) -> tuple[str, bool]:
    constraint = task_constraint(TASKS[name], "server")
    torch.manual_seed(seed)
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(_VOCAB))
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
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(_VOCAB))
    assert not decoder.allowed(EOS)[1]
    expert = TASKS["gather_rows"].expert.strip()
    decoder.text = expert.rsplit("\n", 1)[0]                 # all but the store: out is never stored
    decoder.current = None
    assert not decoder.allowed(EOS)[1]
    decoder.text = expert
    assert decoder.allowed(EOS)[1]


def test_a_model_that_would_write_on_is_stopped_at_the_complete_program():
    """SmolLM2 wants one more instruction after a complete gather; the answer ends there all the same."""
    class GoesOn(NoisyCopyModel):
        def __call__(self, input_ids, **kw):
            out = super().__call__(input_ids, **kw)
            if Tokenizer().decode(self.seen[self.prompt_tokens:]) == self.target:
                out.logits[0, 0, EOS] = -50.0
                out.logits[0, 0, _VOCAB.index("\n    ")] = 50.0
            return out

    constraint = task_constraint(TASKS["gather_rows"], "server")
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(_VOCAB))
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
    decoder = PieceDecoder(_COMPILER.compile_grammar, constraint, len(_VOCAB))
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
