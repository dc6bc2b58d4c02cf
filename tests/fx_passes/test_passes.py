"""Each fx pass on a small ATen graph, without torch.compile: the graph is traced with fake tensors
(``make_fx``), so its nodes carry the shapes and dtypes the passes read."""
from __future__ import annotations

import operator

import pytest
import torch
import torch.nn.functional as F
from dae_emulator.program import DType
from torch.fx.experimental.proxy_tensor import make_fx

from torch_ember.fx_passes import FX_PASSES, GraphKind, LoweringState, run_fx_passes
from torch_ember.fx_passes.canonicalize import canonicalize
from torch_ember.fx_passes.compile_programs import compile_programs
from torch_ember.fx_passes.fuse import batch_embedding_bags, batch_gathers, fuse_epilogues, fuse_message_passing
from torch_ember.fx_passes.known_values import find_known_values
from torch_ember.fx_passes.match import match_regions
from torch_ember.fx_passes.partition import partition
from torch_ember.options import EmberOptions
from torch_ember.programs import compiled_program
from torch_ember.region_op import region_op
from torch_ember.region_spec import Epilogue, RegionKind, SourceOp

aten = torch.ops.aten
OPTIONS = EmberOptions(rest="eager")


def _state(f, *args) -> LoweringState:
    gm = make_fx(f, tracing_mode="fake")(*args)
    return LoweringState(gm, OPTIONS, GraphKind.FORWARD, {"w_1": "table"})


def _matched(f, *args, passes=()) -> LoweringState:
    state = match_regions(_state(f, *args))
    for p in passes:
        state = p(state)
    return state


def _targets(gm) -> list:
    return [n.target for n in gm.graph.nodes if n.op == "call_function"]


def test_the_passes_are_one_ordered_list_with_one_signature():
    names = [p.__name__ for p in FX_PASSES]
    assert names == ["rewrite_sparse_mm", "canonicalize", "match_regions", "find_known_values",
                     "fuse_message_passing", "fuse_epilogues", "batch_embedding_bags", "batch_gathers",
                     "compile_programs", "partition"]


def test_canonicalize_turns_take_into_a_flat_gather():
    state = canonicalize(_state(lambda x, i: torch.take(x, i), torch.randn(4, 5), torch.tensor([0, 7, 19])))
    assert aten.take.default not in _targets(state.gm)
    assert match_regions(state).matches, "the flat access is a region"


def test_match_names_the_table_and_keeps_the_others_on_the_host_with_a_reason():
    state = _matched(lambda w, i, x: (F.embedding(i, w), torch.index_select(x, 1, i)),
                     torch.randn(10, 4), torch.tensor([1, 2]), torch.randn(3, 10))
    assert [(m.spec.kind, m.spec.table) for m in state.matches] == [(RegionKind.EMBEDDING, "table")]
    assert [d.reason for d in state.host] == ["index_select along a dimension other than 0 is not lowered"]


def test_known_values_marks_an_arange_index():
    state = _matched(lambda x: x[torch.arange(3)] * 2, torch.randn(5, 4), passes=(find_known_values,))
    assert state.matches[0].spec.arange == (("indices", 0, 1),)


def test_message_passing_fuses_the_gather_into_the_scatter():
    def f(x, src, dst):
        return torch.zeros(6, 4).index_add(0, dst, x[src])
    state = _matched(f, torch.randn(6, 4), torch.tensor([0, 1, 5]), torch.tensor([2, 2, 3]),
                     passes=(fuse_message_passing,))
    (m,) = state.matches
    assert m.spec.kind is RegionKind.GATHER_SCATTER
    assert (m.spec.op, m.spec.gathered_by) == (SourceOp.INDEX_ADD, SourceOp.INDEX)


def test_epilogues_absorb_a_relu_and_a_scale():
    state = _matched(lambda w, i: F.relu(F.embedding(i, w)) * 0.5, torch.randn(10, 4), torch.tensor([1, 2]),
                     passes=(fuse_epilogues,))
    (m,) = state.matches
    assert m.spec.epilogue == ((Epilogue.RELU, 0.0), (Epilogue.SCALE, 0.5))
    assert [n.target for n in m.absorbs] == [aten.relu.default, aten.mul.Tensor]


def test_the_forward_bags_of_a_graph_become_one_batched_region():
    def f(w1, w2, i, o):
        return F.embedding_bag(i, w1, o) + F.embedding_bag(i, w2, o)
    state = _matched(f, torch.randn(10, 4), torch.randn(10, 4), torch.tensor([1, 2, 3]), torch.tensor([0, 2]),
                     passes=(batch_embedding_bags,))
    (m,) = state.matches
    assert m.spec.kind is RegionKind.BATCHED and [p.kind for p in m.spec.parts] == [RegionKind.EMBEDDING_BAG] * 2


def test_gathers_through_indices_of_one_length_become_one_batched_region():
    def f(x, y, i, j):
        return x[i] + y[j]
    state = _matched(f, torch.randn(5, 4), torch.randn(7, 4), torch.tensor([1, 2]), torch.tensor([0, 6]),
                     passes=(batch_gathers,))
    (m,) = state.matches
    assert m.spec.kind is RegionKind.BATCHED and m.spec.same_length == (("t1_indices", "t0_indices"),)


def test_compile_programs_compiles_each_region_for_its_inputs_dtypes():
    compiled_program.cache_clear()
    state = _matched(lambda w, i: F.embedding(i, w), torch.randn(10, 4, dtype=torch.float64),
                     torch.tensor([[1, 2]], dtype=torch.int32))
    compile_programs(state)
    assert compiled_program.cache_info().currsize == 1
    # the launch's key (the adapter flattens the index; dtypes as given) finds that program: a hit, no compile
    o = state.options
    compiled_program(state.matches[0].spec, (("indices", DType.I32), ("table", DType.F64)), o.device_config,
                     o.opt_level, o.knobs, o.agent_library)
    assert compiled_program.cache_info().hits == 1 and compiled_program.cache_info().currsize == 1


def test_partition_makes_region_calls_that_compute_what_the_graph_did():
    w, i = torch.randn(10, 4), torch.tensor([[1, 2], [9, 0]])
    state = _matched(lambda w, i: F.relu(F.embedding(i, w)), w, i, passes=(fuse_epilogues,))
    gm = partition(state).gm
    assert region_op in _targets(gm) and aten.embedding.default not in _targets(gm)
    assert aten.relu.default not in _targets(gm) and operator.getitem in _targets(gm)
    torch.testing.assert_close(gm(w, i), F.relu(F.embedding(i, w)))


def test_all_passes_together_leave_a_graph_that_equals_eager():
    def f(w, i, o, x, src, dst):
        return F.embedding_bag(i, w, o).sum() + torch.zeros(6, 4).index_add(0, dst, x[src]).relu().sum()
    args = (torch.randn(10, 4), torch.tensor([1, 2, 3]), torch.tensor([0, 2]), torch.randn(6, 4),
            torch.tensor([0, 1, 5]), torch.tensor([2, 2, 3]))
    gm = run_fx_passes(_state(f, *args)).gm
    assert sum(t is region_op for t in _targets(gm)) == 2
    torch.testing.assert_close(gm(*args), f(*args))


@pytest.mark.parametrize("reduce", ["amax", "mean", "max", "prod"])
def test_a_launch_after_lowering_compiles_nothing(reduce):
    """Every program a launch runs is compiled while lowering, under the launch's own key: the region's, a
    row scatter's finishing program (an epilogue after amax, mean), a segment backward's prepass (max, prod).
    Running the graph is then all cache hits."""
    if reduce in ("amax", "mean"):
        def f(x, dst):
            return torch.ones(6, 4).index_reduce(0, dst, x, reduce, include_self=False).relu() * 2
        args = (torch.randn(3, 4), torch.tensor([2, 2, 5]))
    else:
        def f(grad, out, data, lengths):
            return aten._segment_reduce_backward(grad, out, data, reduce, lengths=lengths)
        data, lengths = torch.randn(5, 4), torch.tensor([2, 3])
        args = (torch.randn(2, 4), aten.segment_reduce(data, reduce, lengths=lengths), data, lengths)
    compiled_program.cache_clear()
    gm = run_fx_passes(_state(f, *args)).gm
    assert region_op in _targets(gm)
    misses = compiled_program.cache_info().misses
    torch.testing.assert_close(gm(*args), f(*args))
    assert compiled_program.cache_info().misses == misses
