"""Sequential gathers into plain loads: an index known to be an arange is arithmetic, not a load, and the
row gather it fed becomes a row load at the loop's position (checked line by line in the printed IR)."""
import dae_emulator
import torch
from dae_emulator.program import DType
from torch_ember.conversion.fx_to_slc import region_to_slc
from torch_ember.conversion.slc_to_dlc import decouple
from torch_ember.ir.dlc import format_dlc
from torch_ember.ir.slc import format_slc
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec, SourceOp
from torch_ember.transforms.slc import sequential_loads

TYPES = dict(table=DType.F32, indices=DType.I64)


def lines_with(text: str, needle: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if needle in line]


def _slc(spec, types=TYPES):
    return region_to_slc(spec, types)


def test_an_arange_from_zero_makes_the_row_load_use_the_induction_variable():
    before = _slc(RegionSpec(RegionKind.EMBEDDING, "pos", arange=(("indices", 0, 1),)))
    after = sequential_loads(before)
    assert lines_with(format_slc(before), " = load") == ["r = load indices[i]", "row = load table[r, :] as scalars"]
    assert lines_with(format_slc(after), " = load") == ["row = load table[i, :] as scalars"]
    assert lines_with(format_dlc(decouple(after)), "stream") == ["stream i = induction t_i",
                                                                "stream row = load_row table[i] @t_i"]


def test_start_and_step_become_integer_arithmetic():
    after = sequential_loads(_slc(RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp.INDEX_SELECT, arange=(("indices", 3, 2),))))
    streams = [line for line in lines_with(format_slc(after), " = ") if line.startswith("r")]
    assert streams == ["r_scaled = mul(i, 2)", "r = add(r_scaled, 3)", "row = load table[r, :] as scalars"]
    shifted = sequential_loads(_slc(RegionSpec(RegionKind.EMBEDDING, "pos", arange=(("indices", 5, 1),))))
    assert lines_with(format_slc(shifted), "r = ") == ["r = add(i, 5)"]


def test_inside_a_bag_the_index_and_its_uses_in_callbacks_follow():
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MAX, arange=(("indices", 0, 1),))
    after = format_slc(sequential_loads(_slc(spec, dict(TYPES, offsets=DType.I64))))
    assert lines_with(after, "load table") == ["row = load table[j, :] as scalars"]
    assert lines_with(after, "update acc") == ["update acc, %row, %j"]          # max's argument: the row number


def test_nothing_known_nothing_changed():
    spec = RegionSpec(RegionKind.EMBEDDING, "e")
    assert sequential_loads(_slc(spec)) == _slc(spec)


def test_positional_rows_model_faster_with_the_same_result():
    table = torch.randn(2048, 64)
    inputs = dict(table=table, indices=torch.arange(2048))
    device = dae_emulator.preset("server")
    runs = [dae_emulator.run(compile_region(spec, TYPES, device, 3).dae, inputs, device)
            for spec in (RegionSpec(RegionKind.EMBEDDING, "pos"),
                         RegionSpec(RegionKind.EMBEDDING, "pos", arange=(("indices", 0, 1),)))]
    assert torch.equal(runs[1].outputs["out"], table) and torch.equal(runs[0].outputs["out"], table)
    assert not [a for a in runs[1].trace.accesses if a.tensor == "indices"]
    assert runs[1].cost.cycles < runs[0].cost.cycles
