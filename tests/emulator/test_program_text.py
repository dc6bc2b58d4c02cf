"""The DAE program's text form: round trip for every program the compiler makes, readable syntax errors."""
import dataclasses
import itertools

import dae_emulator
import pytest
from dae_emulator.program import DType
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec

FLOAT = dict(table=DType.F16, grad=DType.BF16, weights=DType.F16)
INDEX = dict(indices=DType.I32, offsets=DType.I64, bag_size=DType.I64, max_indices=DType.I64)


def _specs():
    for mode, weighted, pad in itertools.product(BagMode, [False, True], [-1, 3]):
        if weighted and mode is not BagMode.SUM:
            continue
        yield RegionSpec(RegionKind.EMBEDDING_BAG, "t", mode, pad, has_weights=weighted)
        kind = RegionKind.EMBEDDING_BAG_MAX_BACKWARD if mode is BagMode.MAX else RegionKind.EMBEDDING_BAG_BACKWARD
        yield RegionSpec(kind, "t", mode, pad, has_weights=weighted, num_weights=10, dim=4)
    for pad in (-1, 0):
        yield RegionSpec(RegionKind.EMBEDDING, "t", padding_idx=pad)
        yield RegionSpec(RegionKind.EMBEDDING_BACKWARD, "t", padding_idx=pad, num_weights=7)
        yield RegionSpec(RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD, "t", BagMode.SUM, pad)


@pytest.mark.parametrize("spec", list(_specs()), ids=lambda s: s.name)
def test_every_compiled_program_round_trips(spec):
    program = compile_region(spec, {**FLOAT, **INDEX}, dae_emulator.preset("server"), 0).dae
    text = dae_emulator.format_program(program)
    assert dae_emulator.parse_program(text) == program
    assert dae_emulator.format_program(dae_emulator.parse_program(text)) == text


def test_syntax_error_names_the_line():
    text = "program p\nparam table: f32[n, d]\naccess:\n  traversal tu0 = dense [0, n)\n  stream s = lod table[x]\n"
    with pytest.raises(dae_emulator.DaeSyntaxError, match=r"line 5: 'stream s = lod table\[x\]'"):
        dae_emulator.parse_program(text)


def test_unknown_dtype_is_a_syntax_error():
    with pytest.raises(dae_emulator.DaeSyntaxError, match="line 2"):
        dae_emulator.parse_program("program p\nparam t: f8[n]\n")


def test_a_tiled_program_round_trips_and_a_bad_tile_is_refused():
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM)
    program = dataclasses.replace(compile_region(spec, {**FLOAT, **INDEX}, dae_emulator.preset("server"), 0).dae, tile=4)
    text = dae_emulator.format_program(program)
    assert "  cores take outer items in tiles of 4\n" in text
    assert dae_emulator.parse_program(text) == program
    with pytest.raises(dae_emulator.DaeVerifyError, match="tile must be a positive number of outer items, got 0"):
        dae_emulator.verify(dataclasses.replace(program, tile=0))
