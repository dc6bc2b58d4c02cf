"""Each optimization pass shows its effect in the printed IR (checked line by line, FileCheck style), and
every level computes exactly what level 0 computes, for every region kind."""
import json

import dae_emulator
import pytest
import torch
from dae_emulator.program import DType
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_ember.conversion.fx_to_slc import region_to_slc
from torch_ember.conversion.slc_to_dlc import decouple
from torch_ember.ir.dlc import format_dlc
from torch_ember.ir.slc import format_slc
from torch_ember.pipeline import compile_region, knobs_used
from torch_ember.region_spec import BagMode, Epilogue, Reduction, RegionKind, RegionSpec, SegmentBounds, SourceOp
from torch_ember.options import EmberOptions
from torch_ember.region_op import launch_region
from torch_ember.session import current_session
from torch_ember.transforms.dlc import tile_items, unroll
from torch_ember.transforms.slc import align_queues, bufferize, vectorize

BAG = RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, has_weights=True)
BAG_TYPES = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64, weights=DType.F32)


def lines_with(text: str, needle: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if needle in line]


def test_vectorize_loads_rows_in_vectors_and_gives_row_callbacks_lanes():
    before = region_to_slc(BAG, BAG_TYPES)
    after = vectorize(before, width=8)
    assert lines_with(format_slc(before), "row = load table") == ["row = load table[r, :] as scalars"]
    assert lines_with(format_slc(after), "row = load table") == ["row = load table[r, :] as vector 8"]
    assert lines_with(format_slc(after), "on iter") == ["on iter lanes 8:"]
    assert lines_with(format_slc(after), "on end") == ["on end lanes 8:"]       # reads the row accumulator
    assert "queue q_j_iter_row: row f32 x8" in format_dlc(decouple(after))
    assert "queue q_j_iter_row: row f32 x1" in format_dlc(decouple(before))


def test_bufferize_moves_whole_rows_as_one_entry():
    after = bufferize(vectorize(region_to_slc(BAG, BAG_TYPES), width=8))
    assert lines_with(format_slc(after), "row = load table") == ["row = load table[r, :] as buffer"]
    assert lines_with(format_dlc(decouple(after)), "queue q_j_iter_row") == ["queue q_j_iter_row: row f32"]


def test_align_queues_turns_the_bag_index_into_an_execute_side_counter():
    before = decouple(region_to_slc(BAG, BAG_TYPES))
    after = decouple(align_queues(region_to_slc(BAG, BAG_TYPES)))
    assert lines_with(format_dlc(before), "on t_b.end") == ["on t_b.end: push q_b_end_b <- b; token B_END"]
    assert lines_with(format_dlc(after), "on t_b.end") == ["on t_b.end: token B_END"]
    assert "%b_count = count" in format_dlc(after) and "store out[%b_count]" in format_dlc(after)
    assert len(after.execute.queues) == len(before.execute.queues) - 1


def test_align_queues_leaves_predicated_and_inner_callbacks_alone():
    spec = RegionSpec(RegionKind.EMBEDDING_BACKWARD, "t", padding_idx=0, num_weights=5)
    slc = region_to_slc(spec, dict(grad=DType.F32, indices=DType.I64))
    assert align_queues(slc) == slc        # its one callback is predicated (padding rows skipped)


def test_unroll_marks_the_innermost_callbacks():
    dlc = unroll(decouple(region_to_slc(BAG, BAG_TYPES)), factor=4)
    text = format_dlc(dlc)
    assert lines_with(text, "callback J_ITER") == ["callback J_ITER unroll 4:"]
    assert lines_with(text, "callback B_END") == ["callback B_END:"]


def test_tile_items_deals_the_outer_items_to_the_cores_in_tiles():
    dlc = decouple(region_to_slc(BAG, BAG_TYPES))
    assert not lines_with(format_dlc(dlc), "tiles of")
    assert lines_with(format_dlc(tile_items(dlc, items=4)), "tiles of") == ["cores take outer items in tiles of 4"]
    with pytest.raises(ValueError, match="a tile must hold at least one item, got 0"):
        tile_items(dlc, items=0)


def test_levels_cut_modeled_time_on_a_compute_heavy_bag():
    table, indices = torch.randn(64, 128), torch.randint(0, 64, (2000,))
    inputs = dict(table=table, indices=indices, offsets=torch.arange(0, 2001, 20), weights=torch.rand(2000))
    device = dae_emulator.preset("server")
    cycles = []
    for level in range(4):
        result = dae_emulator.run(compile_region(BAG, BAG_TYPES, device, level).dae, inputs, device)
        cycles.append(result.cost.cycles)
    assert cycles[1] < cycles[0] / 4          # scalar code -> 16-lane vectors on a cache-resident table
    assert cycles[3] <= cycles[2] <= cycles[1]


# ---- every level computes what level 0 computes --------------------------------------------------------------
def _bag_args(g, rows, dim, n, bags):
    offsets = torch.sort(torch.randint(0, n + 1, (bags,), generator=g)).values
    offsets[0] = 0
    return torch.randn(rows, dim, generator=g), torch.randint(0, rows, (n,), generator=g), offsets


def _cases(g, rows, dim, n, bags):
    w, i, o = _bag_args(g, rows, dim, n, bags)
    psw = torch.rand(n, generator=g)
    grad = torch.randn(bags, dim, generator=g)
    out = torch.ops.aten._embedding_bag(w, i, o, False, 1, False, None, False, 1)
    out_max = torch.ops.aten._embedding_bag(w, i, o, False, 2, False, None, False, -1)
    x = torch.randn(rows, dim, generator=g)
    j = torch.randint(0, dim, (rows, max(dim - 1, 1)), generator=g)
    lengths = torch.diff(torch.cat([o, torch.tensor([n])]))
    yield RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, 1, has_weights=True), [w, i, o, psw]
    yield RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MEAN, 1), [w, i, o]
    yield RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MAX), [w, i, o]
    yield RegionSpec(RegionKind.EMBEDDING, "t"), [w, i]
    yield RegionSpec(RegionKind.EMBEDDING_BACKWARD, "t", padding_idx=0, num_weights=rows), [torch.randn(n, dim, generator=g), i]
    yield (RegionSpec(RegionKind.EMBEDDING_BAG_BACKWARD, "t", BagMode.MEAN, 1, num_weights=rows, dim=dim),
           [grad, i, o, out[1], out[2], out[3]])
    yield (RegionSpec(RegionKind.EMBEDDING_BAG_MAX_BACKWARD, "t", BagMode.MAX, num_weights=rows, dim=dim),
           [grad, i, o, out_max[1], out_max[2], out_max[3]])
    yield RegionSpec(RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD, "t", BagMode.SUM), [grad, w, i, o, i.new_empty(0)]
    yield RegionSpec(RegionKind.GATHER_ROWS, "t", op=SourceOp.INDEX_SELECT), [x, i]
    yield RegionSpec(RegionKind.SCATTER_ROWS, "t", op=SourceOp.INDEX_ADD), [x, i, torch.randn(n, dim, generator=g)]
    yield (RegionSpec(RegionKind.SCATTER_ROWS, "t", reduce=Reduction.MAX, include_self=False, op=SourceOp.INDEX_REDUCE),
           [x, i, torch.randn(n, dim, generator=g)])
    yield (RegionSpec(RegionKind.GATHER_SCATTER, "t", reduce=Reduction.MEAN, include_self=False, op=SourceOp.INDEX_REDUCE),
           [x, i, i.flip(0), x.clone(), torch.rand(n, generator=g)])
    yield (RegionSpec(RegionKind.SCATTER_ROWS, "t", alpha=-2.0, op=SourceOp.INDEX_ADD, epilogue=((Epilogue.RELU, 0.0),)),
           [x, i, torch.randn(n, dim, generator=g)])          # its finishing program runs after it
    yield (RegionSpec(RegionKind.FINISH_ROWS, "t", reduce=Reduction.MEAN, include_self=False, op=SourceOp.INDEX_REDUCE,
                      epilogue=((Epilogue.SCALE, 0.5),)), [x, torch.randn(x.shape, generator=g),
                                                    torch.randint(0, 3, (x.shape[0],), generator=g).float()])
    yield RegionSpec(RegionKind.GATHER_ELEMENTS, "t", axis=1, op=SourceOp.GATHER), [x, j]
    yield (RegionSpec(RegionKind.SCATTER_ELEMENTS, "t", reduce=Reduction.SUM, axis=1, op=SourceOp.SCATTER_ADD),
           [x, j, torch.randn(j.shape, generator=g)])
    yield RegionSpec(RegionKind.SEGMENT_REDUCE, "t", reduce=Reduction.MAX, bounds=SegmentBounds.LENGTHS), [torch.randn(n, dim, generator=g), lengths]
    segmented = torch.randn(n, dim, generator=g)
    yield (RegionSpec(RegionKind.SEGMENT_REDUCE_BACKWARD, "t", reduce=Reduction.MEAN, bounds=SegmentBounds.LENGTHS),
           [torch.randn(lengths.numel(), dim, generator=g), torch.empty(0), segmented, lengths])
    tied = torch.randint(0, 3, (n, dim), generator=g).float()        # ties, which max and min backward share
    tied_max = torch.segment_reduce(tied, "max", lengths=lengths)
    yield RegionSpec(RegionKind.SEGMENT_TIES, "t", reduce=Reduction.MAX, bounds=SegmentBounds.LENGTHS), [tied, tied_max, lengths]
    yield (RegionSpec(RegionKind.SEGMENT_REDUCE_BACKWARD, "t", reduce=Reduction.MAX, bounds=SegmentBounds.LENGTHS),
           [torch.randn(lengths.numel(), dim, generator=g), tied_max, tied, lengths])   # its ties counted first
    tied_prod = torch.segment_reduce(tied, "prod", lengths=lengths)                     # zeros among them
    yield RegionSpec(RegionKind.SEGMENT_PRODUCTS, "t", bounds=SegmentBounds.LENGTHS), [tied, tied_prod, lengths]
    yield (RegionSpec(RegionKind.SEGMENT_REDUCE_BACKWARD, "t", reduce=Reduction.PROD, bounds=SegmentBounds.LENGTHS),
           [torch.randn(lengths.numel(), dim, generator=g), tied_prod, tied, lengths])  # its products made first
    parts = (RegionSpec(RegionKind.EMBEDDING_BAG, "a", BagMode.SUM, has_weights=True),
             RegionSpec(RegionKind.EMBEDDING_BAG, "b", BagMode.MAX, 0))
    yield RegionSpec(RegionKind.BATCHED, "a,b", parts=parts), [w, i, o, psw, x, i, o]
    # what the graph knows about index values (fixed_trip_count, sequential_loads) ...
    k = 1 + seed_of(g) % 3
    picks = torch.randint(0, rows, (bags * k,), generator=g)
    yield (RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.MEAN, 1, has_weights=False, arange=(("offsets", 0, k),)),
           [w, picks, torch.arange(0, bags * k, k)])
    yield (RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, has_weights=True, arange=(("offsets", 0, k),)),
           [w, picks, torch.arange(0, bags * k, k), torch.rand(bags * k, generator=g)])
    start, step = min(1, rows - 1), 1 + seed_of(g) % 2
    yield (RegionSpec(RegionKind.EMBEDDING, "t", arange=(("indices", start, step),)),
           [w, torch.arange(start, rows, step)])
    yield RegionSpec(RegionKind.GATHER_ROWS, "t", op=SourceOp.INDEX, arange=(("indices", 0, 1),)), [x, torch.arange(rows)]
    # ... and gathers batched over one iteration space (fuse_loops): a shared table, a shared index
    i2, i3 = torch.randint(0, rows, (n,), generator=g), torch.randint(0, rows, (n,), generator=g)
    gathers = (RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp.INDEX_SELECT),
               RegionSpec(RegionKind.GATHER_ROWS, "w", op=SourceOp.INDEX), RegionSpec(RegionKind.EMBEDDING, "x"),
               RegionSpec(RegionKind.GATHER_ROWS, "w", op=SourceOp.INDEX_SELECT))
    yield (RegionSpec(RegionKind.BATCHED, "x,w", parts=gathers,
                      shared=(("t2_table", "t0_table"), ("t3_table", "t1_table"), ("t3_indices", "t0_indices")),
                      same_length=(("t1_indices", "t0_indices"), ("t2_indices", "t0_indices"))),
           [x, i, w, i2, x, i3, w, i])


def seed_of(g: torch.Generator) -> int:
    return int(torch.randint(0, 2**16, (1,), generator=g))


def _settings(level, buffer_bytes=None, tile=None, vector_width=None, unroll=8):
    """Every launch timed in detail: these tests compare the device programs themselves."""
    return EmberOptions(device="server", opt_level=level, vector_width=vector_width, unroll=unroll,
                        buffer_bytes=buffer_bytes, tile=tile, timing="full")


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 20), dim=st.integers(1, 40), n=st.integers(0, 30), bags=st.integers(1, 8),
       seed=st.integers(0, 2**16), buffer_bytes=st.sampled_from([None, 4, 8, 64, 100]),
       tile=st.sampled_from([None, 1, 3, 64]))
def test_every_level_computes_what_level_zero_computes(rows, dim, n, bags, seed, buffer_bytes, tile):
    cases = list(_cases(torch.Generator().manual_seed(seed), rows, dim, n, bags))
    assert len({spec.kind for spec, _ in cases}) == len(RegionKind)
    for spec, args in cases:
        reference = launch_region(spec, _settings(0), args)
        for level in (1, 2, 3):
            got = launch_region(spec, _settings(level, buffer_bytes, tile), args)   # rows in buffered pieces
            for a, b in zip(got, reference):
                assert torch.equal(a, b) or torch.allclose(a, b, equal_nan=True, rtol=0, atol=0), (spec.name, level)


_KNOB_VALUES = dict(vector_width=(None, 2, 8), tile=(None, 1, 5), buffer_bytes=(None, 8, 64), unroll=(1, 8))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), level=st.integers(0, 3), data=st.data())
def test_knobs_a_level_does_not_use_leave_its_programs_unchanged(seed, level, data):
    """What ``torch_ember.autotune`` relies on to measure such configurations once (``knobs_used``)."""
    used = knobs_used(level)
    assert used <= set(_KNOB_VALUES) and set(_KNOB_VALUES) - used >= ({"unroll"} if level < 3 else set())
    first = {k: data.draw(st.sampled_from(v)) for k, v in _KNOB_VALUES.items()}
    second = {k: first[k] if k in used else data.draw(st.sampled_from(v)) for k, v in _KNOB_VALUES.items()}
    for spec, args in _cases(torch.Generator().manual_seed(seed), 6, 8, 12, 3):
        runs = []
        for knobs in (first, second):
            current_session().reset()
            outputs = launch_region(spec, _settings(level, **knobs), args)
            total = current_session().stats.report().total()
            runs.append((outputs, (total.modeled_seconds, total.dram_bytes, total.cache_hits, total.energy_joules)))
        assert runs[0][1] == runs[1][1], (spec.name, level, first, second)        # the same modeled cost
        assert all(torch.equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))
