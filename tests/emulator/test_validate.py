"""A few of the validation programs: the fast model within tolerance of the cycle-level reference."""
import pytest

from dae_emulator import validate

SUBSET = ("edge q4 p8 d64", "edge hot table p8 d64", "server 4c q8 mo8 zipf p16 d64", "server 8c 32GB/s p8 d64",
          "server 4c uneven tiles of 2 p8 d64")


def test_there_are_enough_distinct_programs():
    names = [p.name for p in validate.PROGRAMS]
    assert len(set(names)) == len(names) >= 20


@pytest.mark.parametrize("name", SUBSET)
def test_fast_model_is_within_tolerance_of_the_reference(name):
    (program,) = [p for p in validate.PROGRAMS if p.name == name]
    assert validate.compare(program).error <= validate.TOLERANCE


def test_main_prints_a_table_and_the_worst_error_last(capsys):
    assert validate.main(["--only", "edge p32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["program", "reference", "fast", "error"]
    assert lines[-1].startswith("worst error vs cycle-level reference: ")
