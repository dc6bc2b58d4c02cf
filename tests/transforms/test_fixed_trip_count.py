"""Fixed-trip-count specialization: a bag whose offsets are known to be ``k * p`` walks a dense ``[0, k)``
loop and reads no offsets (checked line by line in the printed IR), and models faster."""
import dae_emulator
import torch
from dae_emulator.program import DType
from torch_ember.conversion.fx_to_slc import region_to_slc
from torch_ember.conversion.slc_to_dlc import decouple
from torch_ember.ir.dlc import format_dlc
from torch_ember.ir.slc import format_slc
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, Reduction, RegionKind, RegionSpec
from torch_ember.transforms.slc import fixed_trip_count

TYPES = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64, weights=DType.F32)
FIXED = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, has_weights=True, arange=(("offsets", 0, 4),))


def lines_with(text: str, needle: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if needle in line]


def test_the_range_loop_becomes_a_dense_loop_of_k_picks():
    before = region_to_slc(FIXED, TYPES)
    after = fixed_trip_count(before)
    text_before, text = format_slc(before), format_slc(after)
    assert lines_with(text_before, "known") == ["known offsets[p] = 0 + 4 * p"]
    assert lines_with(text_before, "offsets[") == ["known offsets[p] = 0 + 4 * p", "lo = load offsets[b]",
                                                   "hi = load offsets[b_next]"]
    assert lines_with(text_before, "for j") == ["for j in range [lo, hi):"]
    assert lines_with(text, "for j") == ["for j_i in dense [0, 4):"]
    assert lines_with(text, "j_base") == ["j_base = mul(b, 4)", "j = add(j_base, j_i)"]
    assert lines_with(text, "load offsets") == [] and lines_with(text, "b_next") == []
    assert lines_with(text, "load indices") == ["r = load indices[j]"]        # the rest of the loop is unchanged
    assert lines_with(text, "load weights") == ["w = load weights[j]"]
    dlc = format_dlc(decouple(after))
    assert lines_with(dlc, "traversal t_j_i") == ["traversal t_j_i = dense [0, 4) in t_b"]


def test_a_nonzero_start_shifts_the_base_and_unknown_offsets_are_left_alone():
    bag = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM)
    types = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64)
    plain = region_to_slc(bag, types)
    assert fixed_trip_count(plain) == plain
    other = region_to_slc(RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, arange=(("indices", 0, 1),)), types)
    assert lines_with(format_slc(fixed_trip_count(other)), "for j") == ["for j in range [lo, hi):"]
    segments = RegionSpec(RegionKind.SEGMENT_REDUCE, "x", reduce=Reduction.SUM, arange=(("offsets", 2, 3),))
    text = format_slc(fixed_trip_count(region_to_slc(segments, dict(data=DType.F32, offsets=DType.I64))))
    assert lines_with(text, "j_") == ["j_base = mul(s, 3)", "j_start = add(j_base, 2)", "for j_i in dense [0, 3):",
                                      "j = add(j_start, j_i)"]


def test_fixed_bags_read_no_offsets_and_model_faster():
    g = torch.Generator().manual_seed(0)
    bags, k = 512, 4
    inputs = dict(table=torch.randn(4096, 64, generator=g), indices=torch.randint(0, 4096, (bags * k,), generator=g),
                  offsets=torch.arange(0, bags * k + 1, k), weights=torch.rand(bags * k, generator=g))
    device = dae_emulator.preset("server")
    plain = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, has_weights=True)
    runs = [dae_emulator.run(compile_region(spec, TYPES, device, 3).dae, inputs, device) for spec in (plain, FIXED)]
    assert torch.equal(runs[0].outputs["out"], runs[1].outputs["out"])
    assert not [a for a in runs[1].trace.accesses if a.tensor == "offsets"]
    assert runs[1].cost.cycles < runs[0].cost.cycles
