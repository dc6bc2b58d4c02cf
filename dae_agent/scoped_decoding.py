"""Decoding one piece at a time under grammars that grow with the program (``dae_emulator.scoped_grammar``).

The program's prefix (its name and the task's signature) is given, not sampled. Then at every step the
tokens allowed are those that continue the current piece under its grammar, and, where that piece may end
here, those that start the next piece under the grammar made from the text so far. A token chosen from
the next piece's mask starts that piece. The answer ends at its first complete point: where the text
passes every static check (``Constraint.complete``) and the model leaves the piece it is writing (a token
that starts the next piece, or the end of text, ends the answer instead; one that goes on with the piece,
as ``_`` goes on with ``%i`` to make ``%i_``, goes on). A small model rarely ends a program by itself:
SmolLM2 gives the end of text about e^-5 at temperature 0.5 after a complete gather, and writes one more
instruction like the example's instead, which can only spoil a program the checks already pass. No expert
program has a complete proper prefix (a test), so no task's program is cut short by the rule. Sampling is
as ``generate`` samples (the mask, then temperature, then top-p 0.95, from torch's generator seeded by
the caller); greedy at temperature 0. Where the grammar leaves one token, it is written without a model step of its own: the model
reads such tokens together, in one step, before its next choice (jump-forward decoding, as SGLang does).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dae_emulator.scoped_grammar import ScopedGrammar

TOP_P = 0.95


@dataclass(frozen=True)
class Constraint:
    """What an answer for one task must be: ``text``, the task's context-free grammar (GBNF, for a server or
    the whole-program mode); ``scoped``, its piece grammars; ``complete``, whether a program text passes
    every static check (so that the answer may end there)."""

    text: str
    scoped: ScopedGrammar
    complete: Callable[[str], bool]


class PieceDecoder:
    """Masks for one answer: the current piece's matcher and, at a piece's possible end, the next one's."""

    def __init__(self, compile_grammar: Callable[[str], object], constraint: Constraint, vocab_size: int):
        import xgrammar

        self.xgrammar, self.compile, self.constraint = xgrammar, compile_grammar, constraint
        self.text = constraint.scoped.prefix
        self.vocab_size = vocab_size
        self.current = self._matcher(self.text)
        self.following = None

    def _matcher(self, text: str):
        grammar = self.constraint.scoped.next_piece(text)
        return None if grammar is None else self.xgrammar.GrammarMatcher(self.compile(grammar))

    def _mask(self, matcher) -> torch.Tensor:
        bitmask = self.xgrammar.allocate_token_bitmask(1, self.vocab_size)
        matcher.fill_next_token_bitmask(bitmask)
        return _unpack(bitmask, self.vocab_size)

    def allowed(self, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens allowed next (a bool mask), and those of them that end the answer: where the current
        piece may end here and the program is complete, every token that leaves the piece (one that starts
        the next piece, or the end of text) ends it instead."""
        mask = self._mask(self.current) if self.current is not None else torch.zeros(self.vocab_size, dtype=torch.bool)
        may_end_piece = self.current is None or bool(mask[stop])
        mask[stop] = False
        self.following, ending = None, torch.zeros_like(mask)
        if may_end_piece:
            self.following = self._matcher(self.text)
            leaving = self._mask(self.following) if self.following is not None else torch.zeros_like(mask)
            leaving[stop] = False
            if "\nexecute:" in self.text and self.constraint.complete(self.text + "\n"):
                leaving[stop] = True
                ending = leaving & ~mask    # (a token both could take stays in this piece: ``accept``)
            mask |= leaving
        return mask, ending

    def accept(self, token: int, piece: str) -> None:
        if self.current is not None and self.current.accept_token(token):
            self.text += piece
            return
        if self.following is None or not self.following.accept_token(token):
            raise RuntimeError(f"token {token} ({piece!r}) is in no piece's mask")
        self.current, self.text = self.following, self.text + piece


def _unpack(bitmask: torch.Tensor, size: int) -> torch.Tensor:
    """xgrammar's packed int32 bitmask as one bool per token."""
    bits = (bitmask[0].unsqueeze(1) >> torch.arange(32, dtype=torch.int32)) & 1
    return bits.reshape(-1)[:size].bool()


def sample(logits: torch.Tensor, mask: torch.Tensor, temperature: float) -> int:
    logits = logits.masked_fill(~mask, float("-inf"))
    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1)
    ordered, order = probs.sort(descending=True)
    keep = ordered.cumsum(0) - ordered < TOP_P           # the smallest head holding TOP_P of the mass
    probs = torch.zeros_like(probs).scatter(0, order[keep], ordered[keep])
    return int(torch.multinomial(probs, 1))


class Reader:
    """The model reading an answer with its cache: the prompt and the given prefix at once, then the tokens
    written, each run of them in one step before the model's next choice (jump-forward decoding)."""

    def __init__(self, model, ids: torch.Tensor):
        self.model, self.out = model, model(input_ids=ids, use_cache=True)
        self.cache = "cache" if hasattr(self.out, "cache") else "past_key_values"   # transformers 5.x renamed it
        self.pending: list[int] = []        # tokens written that the model has not read yet

    def write(self, token: int) -> None:
        self.pending.append(token)

    def logits(self) -> torch.Tensor:
        """The model's next-token logits after everything written."""
        if self.pending:
            self.out = self.model(input_ids=torch.tensor([self.pending]), use_cache=True,
                                  **{self.cache: getattr(self.out, self.cache)})
            self.pending = []
        return self.out.logits[0, -1].float()


def decode(model, tokenizer, prompt_ids: torch.Tensor, decoder: PieceDecoder, temperature: float,
           max_new_tokens: int) -> tuple[str, int, bool]:
    """The answer (the prefix and the pieces written), how many tokens it took (prefix included), and
    whether it ended (else the cap, or a text no piece can follow, cut it)."""
    prefix = tokenizer.encode(decoder.text, add_special_tokens=False)
    stop = tokenizer.eos_token_id
    reader = Reader(model, torch.cat([prompt_ids, torch.tensor([prefix])], dim=1))
    written = len(prefix)
    while written < max_new_tokens:
        mask, ending = decoder.allowed(stop)
        choices = mask.nonzero().flatten()
        if len(choices) == 0:
            break                       # no piece can follow: the answer ends where it is, unfinished
        if len(choices) == 1:
            token = int(choices[0])     # the grammar leaves one token: written without asking the model
        else:
            token = sample(reader.logits(), mask, temperature)
        if ending[token]:
            return decoder.text, written, True
        decoder.accept(token, tokenizer.decode([token]))
        written += 1
        reader.write(token)
    return decoder.text, written, False
