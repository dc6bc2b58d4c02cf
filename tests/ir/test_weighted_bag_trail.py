"""One kernel followed through every stage: a weighted sum embedding bag, as SLC, DLC and DAE program.

Checks lines each stage must have (FileCheck style), not a frozen printout."""
import dae_emulator
import pytest
from dae_emulator.program import DType, OpKind, QueueKind, StreamKind, TraversalKind
from torch_ember.pipeline import compile_region
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec

DTYPES = dict(table=DType.F32, indices=DType.I64, offsets=DType.I64, weights=DType.F32)


@pytest.fixture(scope="module")
def compiled():
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "emb.weight", BagMode.SUM, has_weights=True)
    return compile_region(spec, DTYPES, dae_emulator.preset("server"))


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
