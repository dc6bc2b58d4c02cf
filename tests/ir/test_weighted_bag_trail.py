"""One kernel followed through every stage: a weighted sum embedding bag, as SLC, DLC and DAE program,
first at opt level 0, then at every level 0..3, where each level's passes leave their mark.

Checks lines each stage must have (FileCheck style), not a frozen printout."""
import functools

import dae_emulator
import pytest
import torch
from dae_emulator.program import DType, OpKind, QueueKind, StreamKind, TraversalKind
from torch_ember.ir.dlc import format_dlc
from torch_ember.ir.slc import LoopKind, format_slc
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec

DTYPES = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64, weights=DType.F32)
SERVER = dae_emulator.preset("server")


@functools.cache
def _compile(level: int, arange: tuple = ()):
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "emb.weight", BagMode.SUM, has_weights=True, arange=arange)
    return compile_region(spec, DTYPES, SERVER, level)


@pytest.fixture(scope="module")
def compiled():
    return _compile(0)


def _check_order(text: str, *needles: str) -> None:
    position = 0
    for needle in needles:
        found = text.find(needle, position)
        assert found >= 0, f"{needle!r} not found after position {position} in:\n{text}"
        position = found + len(needle)


def test_slc_nests_row_loop_in_bag_loop_with_compute_in_callbacks(compiled):
    from torch_ember.ir.slc import format_slc
    text = format_slc(compiled.slc)
    print(text)
    _check_order(text, "for b in dense [0, num_offsets - 1):", "lo = load offsets[b]", "hi = load offsets[b_next]",
                 "for j in range [lo, hi):", "r = load indices[j]", "w = load weights[j]", "row = load table[r, :]",
                 "on iter:", "mul %row, %w", "update acc", "on end:", "read acc", "store out[%b]", "reset acc")
    loops = compiled.slc.loop.loops()
    assert [l.var for l in loops] == ["b", "j"]
    assert loops[1].lo == "lo" and loops[1].hi == "hi"


def test_dlc_splits_access_configuration_from_execute_loop(compiled):
    from torch_ember.ir.dlc import format_dlc
    text = format_dlc(compiled.dlc)
    print(text)
    _check_order(text, "access configuration:", "traversal t_b = dense", "traversal t_j = range [lo, hi) in t_b",
                 "stream row = load_row table[r] @t_j", "on t_b.end: push", "on t_j.iter: push",
                 "execute loop:", "callback J_ITER:", "pop", "mul", "update acc")
    access, execute = compiled.dlc.access, compiled.dlc.execute
    row_rule = next(r for r in access.rules if r.token == "J_ITER")
    assert {s for _, s in row_rule.pushes} == {"row", "w"}
    row_queue = next(q for q in execute.queues if q.name == dict((s, q) for q, s in row_rule.pushes)["row"])
    assert row_queue.kind is QueueKind.ROW
    pops = [i for i in execute.callbacks[[c.token for c in execute.callbacks].index("J_ITER")].body
            if i.op is OpKind.POP]
    assert len(pops) == 2


def test_dae_program_binds_resources_and_round_trips(compiled):
    program = compiled.dae
    text = dae_emulator.format_program(program)
    print(text)
    assert [t.name for t in program.traversals] == ["tu0", "tu1"]
    assert [t.kind for t in program.traversals] == [TraversalKind.DENSE, TraversalKind.RANGE]
    assert all(q.name.startswith("q") and q.name[1:].isdigit() for q in program.queues)
    assert any(s.kind is StreamKind.LOAD_ROW and s.tensor == "table" for s in program.streams)
    assert dae_emulator.parse_program(text) == program


# ---- every opt level -------------------------------------------------------------------------------------------
# The server's vectors hold 16 f32 lanes. A row travels as scalars (level 0), 16-element vectors (vectorize,
# level 1) or one whole-row buffer per entry (bufferize, level 2; entry 0); row compute uses 16 lanes from 1.
ROW_ENTRY = {0: 1, 1: 16, 2: 0, 3: 0}
ROW_LOAD = {0: "as scalars", 1: "as vector 16", 2: "as buffer", 3: "as buffer"}
LANES = {0: 1, 1: 16, 2: 16, 3: 16}


@pytest.fixture(scope="module", params=range(4), ids=lambda level: f"level{level}")
def level(request):
    """Each opt level in turn; ``at`` is its trail, compiled once per level (``_compile`` caches it)."""
    return request.param


@pytest.fixture(scope="module")
def at(level):
    return _compile(level)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_slc_carries_each_levels_row_shape_and_counter(level, at):
    """vectorize/bufferize set how the row load moves rows and the callbacks' lanes; align_queues (level 3)
    makes the bag loop's end callback count bags instead of reading ``b``. Without known offsets the row loop
    stays a range loop (fixed_trip_count has nothing to use; see the test with known values below)."""
    lines = _lines(format_slc(at.slc))
    print("\n".join(lines))
    assert f"row = load table[r, :] {ROW_LOAD[level]}" in lines
    assert [cb.lanes for loop in at.slc.all_loops() for cb in loop.callbacks] == [LANES[level]] * 2
    assert ("on iter lanes 16:" in lines) == (level >= 1)
    assert [loop.kind for loop in at.slc.all_loops()] == [LoopKind.DENSE, LoopKind.RANGE]
    assert not at.slc.more_nests                     # one nest: fuse_loops has nothing to fuse
    counted = ["%b_count = count", "store out[%b_count] = %total"]
    assert all((line in lines) == (level >= 3) for line in counted)
    assert ("store out[%b] = %total" in lines) == (level < 3)


def test_dlc_queues_and_callbacks_follow_the_level(level, at):
    """The row queue's entry is the row shape; at level 3 ``b`` no longer travels through a queue
    (align_queues) and the row callback is unrolled 8 times (unroll), the bag's end callback not."""
    lines = _lines(format_dlc(at.dlc))
    print("\n".join(lines))
    entry = {0: " x1", 1: " x16"}.get(level, "")
    assert f"queue q_j_iter_row: row f32{entry}" in lines
    lanes = f" lanes {LANES[level]}" if level else ""
    unrolled = " unroll 8" if level >= 3 else ""
    assert f"callback J_ITER{lanes}{unrolled}:" in lines and f"callback B_END{lanes}:" in lines
    assert ("on t_b.end: push q_b_end_b <- b; token B_END" in lines) == (level < 3)
    assert ("on t_b.end: token B_END" in lines) == (level >= 3)
    assert [q.name for q in at.dlc.execute.queues] == ["q_b_end_b"] * (level < 3) + ["q_j_iter_row", "q_j_iter_w"]
    assert not any(s.kind is StreamKind.PREFETCH_ROW for s in at.dlc.access.streams)   # plain store: no prefetch


def test_dae_program_binds_each_levels_shape_and_round_trips(level, at):
    """The bound program keeps what the passes chose (entries, lanes, unroll, queues), and its text parses
    back to the same program."""
    program = at.dae
    assert [q.entry for q in program.queues if q.kind is QueueKind.ROW] == [ROW_ENTRY[level]]
    assert len(program.queues) == (3 if level < 3 else 2)
    assert {cb.token: (cb.lanes, cb.unroll) for cb in program.callbacks} == {
        "B_END": (LANES[level], 1), "J_ITER": (LANES[level], 8 if level >= 3 else 1)}
    assert dae_emulator.parse_program(dae_emulator.format_program(program)) == program


def _bag_inputs(seed: int, indices=None, offsets=None):
    """Table 10x8, 12 indices in 5 bags (one of them empty), offsets with the last one appended as the
    program expects; known indices/offsets replace the random ones."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(10, 8, generator=g)
    if indices is None:
        indices = torch.randint(0, 10, (12,), generator=g)
    if offsets is None:
        offsets = torch.tensor([0, 3, 3, 7, 11])
    weights = torch.rand(len(indices), generator=g)
    return dict(table=table, indices=indices, offsets=torch.cat([offsets, torch.tensor([len(indices)])]),
                weights=weights)


def _check_runs_like_torch(program, inputs):
    got = dae_emulator.run(program, inputs, SERVER).outputs["out"]
    want = torch.nn.functional.embedding_bag(inputs["indices"], inputs["table"], inputs["offsets"][:-1], mode="sum",
                                             per_sample_weights=inputs["weights"])
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_dae_program_computes_the_weighted_sum_bag(at, seed):
    """Run on the emulator, every level's program gives what ``F.embedding_bag`` gives."""
    _check_runs_like_torch(at.dae, _bag_inputs(seed))


def test_known_indices_and_bag_sizes_rewrite_the_access_from_level_1(level):
    """With indices known to be ``arange`` and bags of 2 rows, level 1's fixed_trip_count makes the row loop
    dense (no offsets read) and sequential_loads indexes the table by position (no index read); level 0 reads
    both. Either way the program computes the bag."""
    at = _compile(level, arange=(("indices", 0, 1), ("offsets", 0, 2)))
    lines = _lines(format_slc(at.slc))
    print("\n".join(lines))
    rewritten = level >= 1
    inner = LoopKind.DENSE if rewritten else LoopKind.RANGE
    assert [loop.kind for loop in at.slc.all_loops()] == [LoopKind.DENSE, inner]
    assert ("lo = load offsets[b]" in lines) != rewritten and ("r = load indices[j]" in lines) != rewritten
    assert f"row = load table[{'j' if rewritten else 'r'}, :] {ROW_LOAD[level]}" in lines
    _check_runs_like_torch(at.dae, _bag_inputs(level, indices=torch.arange(8), offsets=torch.arange(0, 8, 2)))
