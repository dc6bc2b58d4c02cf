"""``dae_emulator.run`` on hand-written program text and named tensors, against eager PyTorch."""
import dataclasses
from pathlib import Path

import dae_emulator
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

PROGRAMS = Path(__file__).parent / "programs"


def _program(name: str) -> str:
    """A program text of ``programs/`` beside this file."""
    return (PROGRAMS / f"{name}.dae").read_text(encoding="utf-8")


WEIGHTED_BAG = _program("weighted_bag")


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 30), dim=st.integers(1, 9), lengths=st.lists(st.integers(0, 6), max_size=8),
       seed=st.integers(0, 2**16))
def test_hand_written_weighted_bag_matches_eager(rows, dim, lengths, seed):
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(rows, dim, generator=g)
    n = sum(lengths)
    indices = torch.randint(0, rows, (n,), generator=g)
    offsets = torch.tensor([0] + lengths).cumsum(0)
    weights = torch.rand(n, generator=g)
    result = dae_emulator.run(WEIGHTED_BAG, dict(table=table, indices=indices, offsets=offsets, weights=weights))
    want = F.embedding_bag(indices, table, offsets, mode="sum", per_sample_weights=weights,
                           include_last_offset=True) if lengths else torch.zeros(0, dim)
    torch.testing.assert_close(result.outputs["out"], want)
    assert result.trace.lookups == n
    row_bytes = dim * 4
    assert result.trace.bytes_read == n * (row_bytes + 8 + 4) + len(lengths) * 16


def test_trace_events_follow_program_order():
    table = torch.randn(5, 2)
    result = dae_emulator.run(WEIGHTED_BAG, dict(table=table, indices=torch.tensor([1, 2, 3]),
                                                 offsets=torch.tensor([0, 2, 2, 3]), weights=torch.ones(3)))
    tokens = {t.callback: t.event.tolist() for t in result.trace.tokens}
    # bag 0: iter 0, rows at 1 and 3, end 5; bag 1 (empty): iter 6, end 7; bag 2: iter 8, row 9, end 11
    assert tokens == {"ROW": [1, 3, 9], "BAG": [5, 7, 11]}
    assert result.trace.event_item.tolist()[:6] == [0] * 6


def test_out_of_range_index_raises_before_any_output():
    with pytest.raises(dae_emulator.DaeAddressError, match=r"table\[9\].*5 rows"):
        dae_emulator.run(WEIGHTED_BAG, dict(table=torch.randn(5, 2), indices=torch.tensor([1, 9]),
                                            offsets=torch.tensor([0, 2]), weights=torch.ones(2)))


def test_decreasing_offsets_raise_range_error():
    with pytest.raises(dae_emulator.DaeRangeError, match="hi < lo"):
        dae_emulator.run(WEIGHTED_BAG, dict(table=torch.randn(5, 2), indices=torch.tensor([1, 2]),
                                            offsets=torch.tensor([0, 2, 1]), weights=torch.ones(2)))


def test_inputs_that_do_not_fit_are_named():
    with pytest.raises(dae_emulator.DaeShapeError, match="missing \\['weights'\\]"):
        dae_emulator.run(WEIGHTED_BAG, dict(table=torch.randn(5, 2), indices=torch.tensor([1]),
                                            offsets=torch.tensor([0, 1])))
    with pytest.raises(dae_emulator.DaeShapeError, match="num_indices"):
        dae_emulator.run(WEIGHTED_BAG, dict(table=torch.randn(5, 2), indices=torch.tensor([1]),
                                            offsets=torch.tensor([0, 1]), weights=torch.ones(3)))
    with pytest.raises(dae_emulator.DaeShapeError, match="must be f32"):
        dae_emulator.run(WEIGHTED_BAG, dict(table=torch.randn(5, 2).double(), indices=torch.tensor([1]),
                                            offsets=torch.tensor([0, 1]), weights=torch.ones(1)))


@pytest.mark.parametrize("edit, message", [
    (("    %w = pop q_w\n", ""), "pushes .* but its callback pops"),
    (("  on tu0.end: push q_bag <- b; token BAG\n", "  on tu0.end: push q_bag <- r; token BAG\n"), "inner layer"),
    (("    %s = read acc\n", "    %s = read acc\n    %t = read acc\n    update acc, %t\n"), "both updates and resets"),
    (("    store out[%b] = %s\n", "    store table[%b] = %s\n"), "not an output"),
])
def test_verifier_rejects_illegal_programs(edit, message):
    with pytest.raises(dae_emulator.DaeVerifyError, match=message):
        dae_emulator.verify(dae_emulator.parse_program(WEIGHTED_BAG.replace(*edit)))


def test_program_must_fit_device_resources():
    program = dae_emulator.parse_program(WEIGHTED_BAG)
    tiny = dae_emulator.DeviceConfig(**{**dae_emulator.preset("edge").__dict__, "queues": 2})
    with pytest.raises(dae_emulator.DaeVerifyError, match="3 queues needed"):
        dae_emulator.verify(program, tiny)


ELEMENT_GATHER = _program("element_gather")


def test_size_symbols_in_address_arithmetic_gather_along_columns():
    x = torch.randn(4, 5)
    index = torch.randint(0, 5, (4, 3))
    result = dae_emulator.run(ELEMENT_GATHER, {"x": x.reshape(-1), "index": index.reshape(-1)},
                              sizes={"k_size": 3, "n": 5})
    torch.testing.assert_close(result.outputs["out"].reshape(4, 3), torch.gather(x, 1, index))
    with pytest.raises(dae_emulator.DaeShapeError, match="uses size k_size, which no input binds"):
        dae_emulator.run(ELEMENT_GATHER, {"x": x.reshape(-1), "index": index.reshape(-1)}, sizes={"n": 5})



def test_empty_outputs_are_shaped_as_the_run_outputs_and_refuse_what_run_refuses():
    x, index = torch.randn(4, 5), torch.randint(0, 5, (4, 3))
    inputs = {"x": x.reshape(-1), "index": index.reshape(-1)}
    result = dae_emulator.run(ELEMENT_GATHER, inputs, sizes={"k_size": 3, "n": 5})
    program = dae_emulator.parse_program(ELEMENT_GATHER)
    on_meta = {k: v.to("meta") for k, v in inputs.items()}
    meta = dae_emulator.empty_outputs(program, on_meta, sizes={"k_size": 3, "n": 5})
    assert {k: (v.shape, v.dtype, v.device.type) for k, v in meta.items()} == {
        k: (v.shape, v.dtype, "meta") for k, v in result.outputs.items()}
    with pytest.raises(dae_emulator.DaeShapeError, match="uses size k_size, which no input binds"):
        dae_emulator.empty_outputs(program, inputs, sizes={"n": 5})

def test_read_modify_write_stores_reduce_duplicates():
    text = ELEMENT_GATHER.replace("output out: f32[numel_index]", "output out: f32[n_out]").replace(
        "store out[%p] = %v", "store_max out[%p] max= %v").replace("push q0 <- p", "push q0 <- k")
    x = torch.arange(20.0)
    index = torch.tensor([1, 1, 0, 2, 2, 2])
    result = dae_emulator.run(text, {"x": x, "index": index}, sizes={"k_size": 1, "n": 0, "n_out": 3})
    assert dae_emulator.parse_program(text).callbacks[0].body[-1].op.value == "store_max"
    # out starts at zero; per target the max of the gathered x[index] values (x[k] = k here)
    assert result.outputs["out"].tolist() == [0.0, 1.0, 2.0]


TWO_TABLES = _program("two_tables")


def test_several_chains_run_one_after_another_and_split_work_across_all_their_bags():
    g = torch.Generator().manual_seed(0)
    t0, t1 = torch.randn(30, 4, generator=g), torch.randn(50, 8, generator=g)
    i0, i1 = torch.randint(0, 30, (12,), generator=g), torch.randint(0, 50, (7,), generator=g)
    o0, o1 = torch.tensor([0, 5, 5, 12]), torch.tensor([0, 3, 7])
    result = dae_emulator.run(TWO_TABLES, dict(t0=t0, i0=i0, o0=o0, t1=t1, i1=i1, o1=o1))
    torch.testing.assert_close(result.outputs["out0"], F.embedding_bag(i0, t0, o0, mode="sum", include_last_offset=True))
    torch.testing.assert_close(result.outputs["out1"], F.embedding_bag(i1, t1, o1, mode="sum", include_last_offset=True))
    trace = result.trace
    assert trace.num_items == 3 + 2                      # bags of both tables are the work items
    first, second = (t.event for t in trace.tokens if t.callback in ("BAG0", "BAG1"))
    assert int(first.max()) < int(second.min())          # the second chain is issued after the first
    assert trace.lookups == 12 + 7


def test_a_chain_cannot_read_another_chains_streams():
    text = TWO_TABLES.replace("stream r1 = load i1[j1] @c1", "stream r1 = load i1[j0] @c1")
    with pytest.raises(dae_emulator.DaeVerifyError, match="another chain"):
        dae_emulator.verify(dae_emulator.parse_program(text))


def test_tiles_dealt_in_turn_balance_uneven_bags_and_change_no_result():
    """All lookups in the first quarter of the bags: one block per core leaves three of four cores idle."""
    g = torch.Generator().manual_seed(0)
    table = torch.randn(5000, 16, generator=g)
    lengths = torch.tensor([32] * 16 + [0] * 48)
    indices = torch.randint(0, 5000, (int(lengths.sum()),), generator=g)
    inputs = dict(table=table, indices=indices, offsets=torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]),
                  weights=torch.rand(indices.numel(), generator=g))
    device = dataclasses.replace(dae_emulator.preset("server"), cores=4)
    tiled_text = WEIGHTED_BAG.replace("  on tu1.iter", "  cores take outer items in tiles of 2\n  on tu1.iter")
    block, tiled = dae_emulator.run(WEIGHTED_BAG, inputs, device), dae_emulator.run(tiled_text, inputs, device)
    assert torch.equal(block.outputs["out"], tiled.outputs["out"])
    assert tiled.cost.cycles < 0.5 * block.cost.cycles


MAX_BAG_WITH_ROWS = _program("max_bag_with_rows")


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 8), dim=st.integers(1, 4), lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5),
       special=st.lists(st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0]), max_size=4),
       seed=st.integers(0, 2**16))
def test_max_accumulator_with_rows_is_compare_and_select(rows, dim, lengths, special, seed):
    """A MAX accumulator that tracks rows keeps a segment's first update and takes a later one only when it
    is strictly greater: value and row as PyTorch's CPU max bag gives them, with NaN (kept when first,
    never taken later), infinities and ties (small integers, so rows often tie)."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(-2, 3, (rows, dim), generator=g).float()
    for k, value in enumerate(special):
        table.view(-1)[int(torch.randint(0, table.numel(), (1,), generator=g))] = value
    indices = torch.randint(0, rows, (sum(lengths),), generator=g)
    offsets = torch.tensor([0] + lengths).cumsum(0)
    result = dae_emulator.run(MAX_BAG_WITH_ROWS, dict(table=table, indices=indices, offsets=offsets))
    want, _, _, want_rows = torch.ops.aten._embedding_bag(table, indices, offsets[:-1], False, 2)
    torch.testing.assert_close(result.outputs["out"], want, equal_nan=True)
    assert torch.equal(result.outputs["max_indices"], want_rows)


DOUBLE_ROWS = (Path(__file__).parents[2] / "dae_agent" / "prompts" / "double_rows.dae").read_text(encoding="utf-8")
_ITEM_OP = "%y = mul %row, 2.0"
_INDUCTION = "  stream i = induction tu0\n"


@pytest.mark.parametrize("text, message", [
    (DOUBLE_ROWS.replace(_ITEM_OP, "%y = add %row"), "add: takes 2 operand"),               # was IndexError
    (DOUBLE_ROWS.replace(_ITEM_OP, "%y = mul %row, 2.0, 5.0"), "mul: takes 2 operand"),     # ran, 5.0 ignored
    (DOUBLE_ROWS.replace(_ITEM_OP, "%y = select %row, %row"), "select: takes 3 operand"),   # was ValueError
    (DOUBLE_ROWS.replace(_ITEM_OP, "%y = cast.f32 %row, %row"), "cast: takes 1 operand"),   # ran, one ignored
    (DOUBLE_ROWS.replace(_ITEM_OP, "%y = dot %row"), "dot: takes 2 operand"),
    (DOUBLE_ROWS.replace(_INDUCTION, _INDUCTION + "  stream j = alu add(i) @tu0\n"), "alu add takes 2 operands"),
    (DOUBLE_ROWS.replace(_INDUCTION, _INDUCTION + "  stream j = alu add(i, 1, 7) @tu0\n")        # ran as i + 7 * 1
     .replace("push q_i <- i", "push q_i <- j"), "alu add takes 2 operands, got 3"),
])
def test_an_op_given_the_wrong_number_of_operands_is_refused_before_it_runs(text, message):
    """Each of these crashed deep in the emulator or ran with an operand silently dropped (or, for the ALU,
    taken as torch.add's ``alpha``): the verifier refuses them, and the grammar does not allow them."""
    from dae_emulator.grammar import PROGRAM_GRAMMAR
    from tests.emulator.test_grammar import accepts
    x = torch.randn(4, 3)
    with pytest.raises(dae_emulator.DaeVerifyError, match=message):
        dae_emulator.run(text, {"x": x})
    assert not accepts(PROGRAM_GRAMMAR, text)
    assert accepts(PROGRAM_GRAMMAR, DOUBLE_ROWS)


def test_a_traversal_unit_declared_twice_is_refused_before_it_runs():
    """Found by mutating the tasks' expert programs: it raised IndexError in the access unit's stream walk."""
    line = "  traversal tu0 = dense [0, num_items)\n"
    twice = DOUBLE_ROWS.replace(line, line * 2)
    with pytest.raises(dae_emulator.DaeVerifyError, match="traversal unit 'tu0' is defined twice"):
        dae_emulator.run(twice, {"x": torch.randn(4, 3)})


@pytest.mark.parametrize("edit, message", [
    (("output out: f32[num_items, dim]", "output out: i64[num_items, dim] init -inf"), "i64 and cannot start at -inf"),
    (("output out: f32[num_items, dim]", "output out: i32[num_items, dim] init 0.5"), "i32 and cannot start at 0.5"),
    (("output out: f32[num_items, dim]", "output out: bool[num_items, dim] init 2"), "bool and cannot start at 2"),
])
def test_an_integer_output_that_cannot_hold_its_start_value_is_refused(edit, message):
    text = DOUBLE_ROWS.replace(*edit)
    assert text != DOUBLE_ROWS
    with pytest.raises(dae_emulator.DaeVerifyError, match=message):
        dae_emulator.run(text, {"x": torch.randn(4, 3)})


def test_an_integer_accumulator_that_cannot_hold_its_start_value_is_refused():
    """Found by the mutation test: ``acc best: max i64[dim] init -inf`` raised torch's RuntimeError."""
    bag_max = (Path(__file__).parents[2] / "dae_agent" / "tasks" / "programs" / "bag_max.dae").read_text()
    text = bag_max.replace("acc best: max f32[dim] init -inf", "acc best: max i64[dim] init -inf")
    assert text != bag_max
    inputs = dict(table=torch.randn(5, 2), indices=torch.tensor([1, 2]), offsets=torch.tensor([0, 2]))
    with pytest.raises(dae_emulator.DaeVerifyError, match="accumulator best is i64 and cannot start at -inf"):
        dae_emulator.run(text, inputs)


@pytest.mark.parametrize("edit, user", [
    (("dense [0, num_items)", "dense [0, acc - 1)"), "traversal unit tu0 uses size acc"),
    (("output out: f32[num_items, dim]", "output out: f32[num_items, width]"), "output out uses size width"),
])
def test_a_size_no_input_binds_is_named_before_it_runs(edit, user):
    """Found by the mutation test: a traversal over ``acc - 1`` raised KeyError('acc') in the access unit."""
    text = DOUBLE_ROWS.replace(*edit)
    assert text != DOUBLE_ROWS
    with pytest.raises(dae_emulator.DaeShapeError, match=f"{user}, which no input binds"):
        dae_emulator.run(text, {"x": torch.randn(4, 3)})
