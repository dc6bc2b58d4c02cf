"""Loop fusion of a batched region's gathers over one iteration space: one loop, one callback, one token
per position; a table the parts share is one parameter, and an index stream they share is loaded once."""
import dae_emulator
import torch
from dae_emulator.program import DType
from torch_ember.conversion.fx_to_slc import region_to_slc
from torch_ember.conversion.slc_to_dlc import decouple
from torch_ember.ir.dlc import format_dlc
from torch_ember.ir.slc import format_slc
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec, SourceOp
from torch_ember.transforms.dlc import unroll
from torch_ember.conversion.dlc_to_dae import bind_resources
from torch_ember.transforms.slc import align_queues, bufferize, fuse_loops, vectorize

F, I = DType.F32, DType.I64


def lines_with(text: str, needle: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if needle in line]


def _gather(table):
    return RegionSpec(RegionKind.GATHER_ROWS, table, op=SourceOp.INDEX_SELECT)


KG = RegionSpec(RegionKind.BATCHED, "kg", parts=(_gather("entity"), _gather("relation"), _gather("entity")),
                shared=(("t2_table", "t0_table"),), same_length=(("t1_indices", "t0_indices"), ("t2_indices", "t0_indices")))
KG_TYPES = dict(t0_table=F, t0_indices=I, t1_table=F, t1_indices=I, t2_indices=I)


def test_batching_passes_a_shared_table_once_and_gives_equal_lengths_one_symbol():
    text = format_slc(region_to_slc(KG, KG_TYPES))
    assert "t2_table" not in text and "t2_num_indices" not in text and "t1_num_indices" not in text
    assert lines_with(text, "t2_row = load") == ["t2_row = load t0_table[t2_r, :] as scalars"]
    assert lines_with(text, "for ") == ["for t0_i in dense [0, t0_num_indices):", "for t1_i in dense [0, t0_num_indices):",
                                        "for t2_i in dense [0, t0_num_indices):"]


def test_three_gathers_become_one_loop_with_one_callback():
    before = region_to_slc(KG, KG_TYPES)
    after = fuse_loops(before)
    text = format_slc(after)
    assert lines_with(text, "for ") == ["for t0_i in dense [0, t0_num_indices):"]
    assert lines_with(text, " = load") == ["t0_r = load t0_indices[t0_i]", "t0_row = load t0_table[t0_r, :] as scalars",
                                           "t1_r = load t1_indices[t0_i]", "t1_row = load t1_table[t1_r, :] as scalars",
                                           "t2_r = load t2_indices[t0_i]", "t2_row = load t0_table[t2_r, :] as scalars"]
    assert lines_with(text, "on iter") == ["on iter:"]
    assert lines_with(text, "store") == ["store t0_out[%t0_i] = %t0_row", "store t1_out[%t0_i] = %t1_row",
                                         "store t2_out[%t0_i] = %t2_row"]
    rules = lines_with(format_dlc(decouple(after)), "token")
    assert len(rules) == 1 and rules[0].count("<-") == 4         # three rows and the position, one token
    assert len(lines_with(format_dlc(decouple(before)), "token")) == 3


def test_gathers_through_one_index_tensor_share_its_stream():
    spec = RegionSpec(RegionKind.BATCHED, "xy", parts=(_gather("x"), _gather("y")),
                      shared=(("t1_indices", "t0_indices"),))
    text = format_slc(fuse_loops(region_to_slc(spec, dict(t0_table=F, t0_indices=I, t1_table=F))))
    assert lines_with(text, "load t0_indices") == ["t0_r = load t0_indices[t0_i]"]
    assert lines_with(text, "t1_row = load") == ["t1_row = load t1_table[t0_r, :] as scalars"]


def test_loops_of_other_lengths_or_with_inner_loops_stay_apart():
    apart = RegionSpec(RegionKind.BATCHED, "xy", parts=(_gather("x"), _gather("y")))
    slc = region_to_slc(apart, dict(t0_table=F, t0_indices=I, t1_table=F, t1_indices=I))
    assert fuse_loops(slc) == slc
    bags = RegionSpec(RegionKind.BATCHED, "ab", parts=(RegionSpec(RegionKind.EMBEDDING_BAG, "a", BagMode.SUM),) * 2,
                      same_length=(("t1_offsets", "t0_offsets"),))
    slc = region_to_slc(bags, {f"t{k}_{n}": t for k in (0, 1) for n, t in (("table", F), ("indices", I), ("offsets", I))})
    assert fuse_loops(slc) == slc


def test_unrolling_reaches_every_chain_of_a_batched_region():
    bags = RegionSpec(RegionKind.BATCHED, "ab", parts=(RegionSpec(RegionKind.EMBEDDING_BAG, "a", BagMode.SUM),) * 2)
    types = {f"t{k}_{n}": t for k in (0, 1) for n, t in (("table", F), ("indices", I), ("offsets", I))}
    text = format_dlc(unroll(decouple(region_to_slc(bags, types)), factor=8))
    assert lines_with(text, "callback T0_J_ITER") == ["callback T0_J_ITER unroll 8:"]
    assert lines_with(text, "callback T1_J_ITER") == ["callback T1_J_ITER unroll 8:"]
    assert lines_with(text, "callback T0_B_END") == ["callback T0_B_END:"]


def _level3(spec, types, device, *, fuse: bool):
    slc = bufferize(vectorize(region_to_slc(spec, types), width=16))
    slc = align_queues(fuse_loops(slc) if fuse else slc)
    return bind_resources(unroll(decouple(slc), factor=8), device)


def test_the_fused_kg_lookups_take_a_third_of_the_events_and_tokens_and_model_faster():
    g = torch.Generator().manual_seed(1)
    entity, relation = torch.randn(500, 16, generator=g), torch.randn(40, 16, generator=g)
    head, rel, tail = (torch.randint(0, n, (8192,), generator=g) for n in (500, 40, 500))
    inputs = dict(t0_table=entity, t0_indices=head, t1_table=relation, t1_indices=rel, t2_indices=tail)
    device = dae_emulator.preset("server")
    fused, apart = (dae_emulator.run(_level3(KG, KG_TYPES, device, fuse=f), inputs, device) for f in (True, False))
    for name, want in (("t0_out", entity[head]), ("t1_out", relation[rel]), ("t2_out", entity[tail])):
        assert torch.equal(fused.outputs[name], want) and torch.equal(apart.outputs[name], want)
    assert fused.trace.num_events * 3 == apart.trace.num_events
    assert sum(t.event.numel() for t in fused.trace.tokens) * 3 == sum(t.event.numel() for t in apart.trace.tokens)
    assert fused.cost.cycles < apart.cost.cycles
