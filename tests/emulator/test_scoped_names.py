"""The names and numbers a piece may write (``dae_emulator.scoped_names``): a fresh name is any short name
but a taken one or one going on from it; a fresh number any constant but a taken one."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dae_emulator.scoped_names import fresh_name, fresh_number
from gbnf_accepts import accepts        # tests/emulator/gbnf_accepts.py


@pytest.mark.parametrize("taken, number, expected", [
    ((), "0", True), ((), "17", True), ((), "017", False), ((), "-1", False), ((1,), "1", False),
    ((1,), "10", True), ((0, 1), "0", False), ((12,), "1", True), ((12,), "123", True),
    ((0,), "01", False), ((0,), "10", True),
])
def test_a_fresh_number_is_any_constant_but_a_taken_one(taken, number, expected):
    assert accepts(f"root ::= {fresh_number(taken)}", number) is expected


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,5}")


@settings(max_examples=60, deadline=None)
@given(taken=st.sets(st.from_regex(_NAME, fullmatch=True), max_size=6),
       name=st.one_of(st.from_regex(_NAME, fullmatch=True), st.sampled_from(["", "1a", "a-b", "abcdefg"])))
def test_a_fresh_name_is_any_short_name_but_a_taken_one_or_one_going_on_from_it(taken, name):
    grammar = f"root ::= {fresh_name(taken, 6)}"
    goes_on = any(name.startswith(t) and len(name) > len(t) and (len(t) > 1 or name[len(t)] in "_0123456789")
                  for t in taken)
    assert accepts(grammar, name) == (bool(_NAME.fullmatch(name)) and name not in taken and not goes_on)
