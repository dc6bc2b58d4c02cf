"""The static range check (``dae_emulator.extents``): each index's extent from loops, the inputs' value
bounds and integer ops; an index fits a dimension only where no binding of the sizes takes it out; and
the bounds hold on the emulator: every index every task's expert program makes stays below its extent."""
from __future__ import annotations

import pytest

from dae_agent.grammar import value_bounds
from dae_agent.tasks import TASKS
from dae_agent.tasks.inputs import make_inputs
from dae_agent.tasks.spec import size_of
from dae_emulator.extents import fits, stream_extents, value_extents
from dae_emulator.program import Dim, StreamKind, TraversalKind
from dae_emulator.text import parse_program


@pytest.mark.parametrize("extent, dim, expected", [
    (Dim("num_rows"), Dim("num_rows"), True),
    (Dim("num_offsets", -1), Dim("num_offsets"), True),
    (Dim("num_indices", 1), Dim("num_indices"), False),      # offsets reach num_indices itself
    (Dim("num_indices"), Dim("num_rows"), False),            # another size: larger for some binding
    (Dim("num_indices"), Dim(None, 16), False),              # a size against a constant
    (Dim(None, 8), Dim(None, 8), True),
    (Dim(None, 9), Dim(None, 8), False),
    (Dim(None, 16), Dim("num_indices"), False),              # a scatter's row index into the indices
    (Dim(None, 1), Dim("num_rows"), True),
    (None, Dim("num_rows"), True),                           # unknown
])
def test_an_index_fits_a_dimension_only_for_every_binding(extent, dim, expected):
    assert fits(extent, dim) is expected


def test_extents_of_a_bag_program():
    task = TASKS["bag_sum"]
    p = parse_program(task.expert)
    extents = stream_extents(p, dict(value_bounds(task)))
    assert extents["b"] == Dim("num_offsets", -1)
    assert extents["next"] == Dim("num_offsets")               # add(b, 1)
    assert extents["lo"] == extents["hi"] == Dim("num_indices", 1)
    assert extents["j"] == Dim("num_indices")                # below hi
    assert extents["r"] == Dim("num_rows")
    assert extents["row"] is None
    assert value_extents(p, p.callback("BAG"), extents) == {"b": Dim("num_offsets", -1)}


def test_a_count_reaches_below_the_outermost_loop_where_it_counts_its_iterations():
    """SmolLM2 stored out[%n, %n] with %n = count in gather_relu: count goes to num_indices, the columns to
    dim (found by a real run)."""
    text = TASKS["gather_rows"].expert.replace("    store out", "    %n = count\n    store out")
    p = parse_program(text)
    extents = value_extents(p, p.callback("ROW"), stream_extents(p, {}))
    assert extents["n"] == Dim("num_indices")
    bag = parse_program(TASKS["bag_sum"].expert.replace("    update total", "    %n = count\n    update total"))
    assert "n" not in value_extents(bag, bag.callback("ROW"), stream_extents(bag, {}))     # rows of all bags


def test_value_bounds_of_the_tasks():
    assert dict(value_bounds(TASKS["bag_sum"])) == {"indices": Dim("num_rows"), "offsets": Dim("num_indices", 1)}
    assert dict(value_bounds(TASKS["moe_expert_counts"])) == {"expert": Dim(None, 8)}
    assert value_bounds(TASKS["gather_rows"]) == (("indices", Dim("num_rows")),)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_index_an_expert_program_makes_stays_below_its_extent(name):
    """The extents are bounds the emulated values keep: walked over each case's real inputs, every dense
    loop's induction and every index loaded stays below the extent the check gives it."""
    task = TASKS[name]
    p = parse_program(task.expert)
    extents = stream_extents(p, dict(value_bounds(task)))
    for case_number, sizes in enumerate(task.cases):
        inputs = make_inputs(task, sizes, seed=case_number)
        for stream in p.streams:
            extent = extents[stream.name]
            if extent is None:
                continue
            bound = sizes.get(extent.symbol, 0) + extent.offset
            for value in _values(p, stream, inputs, sizes):
                assert 0 <= value < bound, (stream, value, bound)


def _values(p, stream, inputs, sizes):
    """The values a stream takes where it is a load of an input or a dense unit's induction."""
    if stream.kind is StreamKind.LOAD and stream.tensor in inputs:
        return inputs[stream.tensor].tolist()
    if stream.kind is StreamKind.INDUCTION:
        t = p.traversal(stream.traversal)
        if t.kind is TraversalKind.DENSE:
            return range(size_of(str(t.extent), sizes))
    return []
