"""Whether a GBNF grammar accepts a text whole, with one token per character so that the grammar alone
decides (for the piece grammars' tests)."""
from __future__ import annotations

import pytest

xgr = pytest.importorskip("xgrammar")
_VOCAB = [chr(c) for c in range(32, 127)] + ["\n"]
_COMPILER = xgr.GrammarCompiler(xgr.TokenizerInfo(_VOCAB))


def accepts(grammar: str | None, text: str) -> bool:
    if grammar is None:
        return False
    matcher = xgr.GrammarMatcher(_COMPILER.compile_grammar(grammar), terminate_without_stop_token=True)
    return matcher.accept_string(text) and matcher.is_completed()


def begins(grammar: str, text: str) -> bool:
    """Whether ``text`` is the start of some text the grammar accepts."""
    return xgr.GrammarMatcher(_COMPILER.compile_grammar(grammar)).accept_string(text)
