"""Gathers, scatters and message passing under ember against eager PyTorch: outputs and gradients, with
duplicate indices, empty index sets, non-contiguous inputs, and the forms real libraries write."""
import pytest
import torch
import torch_ember
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

OPS = {
    "index_select": lambda x, i, j, w: x.index_select(0, i),
    "getitem": lambda x, i, j, w: x[i],
    "gather_dim1": lambda x, i, j, w: torch.gather(x, 1, j),
    "take_along_dim": lambda x, i, j, w: torch.take_along_dim(x, j, dim=1),
    "index_add": lambda x, i, j, w: torch.ones(x.shape[0], x.shape[1]).index_add(0, i, x[: i.shape[0]] * 1.0,
                                                                                  alpha=0.5),
    "index_put": lambda x, i, j, w: torch.zeros_like(x).index_put((i,), x[: i.shape[0]] + 1, accumulate=True),
    "scatter_add_rows": lambda x, i, j, w: torch.zeros_like(x).scatter_add(
        0, i.view(-1, 1).expand(-1, x.shape[1]), x[: i.shape[0]]),
    "scatter_add_dim1": lambda x, i, j, w: torch.ones_like(x).scatter_add(1, j, x[:, : j.shape[1]]),
    "scatter_amax_rows": lambda x, i, j, w: torch.zeros_like(x).scatter_reduce(
        0, i.view(-1, 1).expand(-1, x.shape[1]), x[: i.shape[0]], "amax", include_self=False),
    "scatter_mean_dim1": lambda x, i, j, w: torch.ones_like(x).scatter_reduce(1, j, x[:, : j.shape[1]], "mean"),
    "index_reduce_amin": lambda x, i, j, w: torch.zeros_like(x).index_reduce(0, i, x[: i.shape[0]], "amin",
                                                                             include_self=False),
    "index_reduce_prod": lambda x, i, j, w: torch.ones_like(x).index_reduce(0, i, x[: i.shape[0]], "prod"),
    "message_passing": lambda x, i, j, w: torch.zeros_like(x).index_add(0, i.flip(0), x[i] * w[: i.shape[0], None]),
    "transposed_input": lambda x, i, j, w: x.t().contiguous().t().index_select(0, i) + x.t()[: x.shape[1]].sum(),
}
_COMPILED = {}


def _compiled(name):
    """One compiled function per op: each op's own code object, so Dynamo caches them apart."""
    if name not in _COMPILED:
        _COMPILED[name] = torch.compile(OPS[name], backend="ember", options={"rest": "eager"}, dynamic=True)
    return _COMPILED[name]


@pytest.mark.parametrize("name", list(OPS))
@settings(max_examples=8, deadline=None)
@given(rows=st.integers(2, 12), cols=st.integers(2, 6), n=st.integers(0, 12), seed=st.integers(0, 2**16))
def test_matches_eager_forward_and_backward(name, rows, cols, n, seed):
    g = torch.Generator().manual_seed(seed)
    n = min(n, rows)  # scatters read x[:n]
    x = torch.randn(rows, cols, generator=g, requires_grad=True)
    i = torch.randint(0, rows, (n,), generator=g)            # duplicates are likely
    j = torch.randint(0, cols, (rows, max(cols - 1, 1)), generator=g)
    w = torch.rand(rows, generator=g, requires_grad=True)
    launches = sum(r.launches for r in torch_ember.report().regions)
    got = _compiled(name)(x, i, j, w).pow(2).sum()
    assert sum(r.launches for r in torch_ember.report().regions) > launches, "no DAE region ran"
    want = OPS[name](x, i, j, w).pow(2).sum()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    got_grads = torch.autograd.grad(got, [x, w], allow_unused=True, materialize_grads=True)
    want_grads = torch.autograd.grad(want, [x, w], allow_unused=True, materialize_grads=True)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_ops_are_lowered_not_left_on_the_host():
    torch_ember.reset()
    x, i, j, w = torch.randn(5, 3, requires_grad=True), torch.tensor([0, 4, 4]), torch.tensor([[0, 2]] * 5), torch.rand(5)
    for name in OPS:
        _compiled(name)(x, i, j, w).sum().backward()
    report = torch_ember.report()
    kinds = {r.kind for r in report.regions}
    assert {"gather_rows", "scatter_rows", "gather_elements", "scatter_elements"} <= kinds
    assert not [h for h in report.host_ops if "index" in h.op or "scatter" in h.op or "gather" in h.op]


def test_message_passing_is_one_fused_region_in_inference():
    torch_ember.reset()
    x, src, dst, w = torch.randn(6, 4), torch.tensor([0, 2, 2, 5]), torch.tensor([1, 1, 0, 3]), torch.rand(4)
    f = torch.compile(lambda x: torch.zeros(6, 4).index_add(0, dst, x.index_select(0, src) * w.view(-1, 1)).relu(),
                      backend="ember", options={"rest": "eager"})
    with torch.no_grad():
        torch.testing.assert_close(f(x), torch.zeros(6, 4).index_add(0, dst, x[src] * w.view(-1, 1)).relu())
    regions = torch_ember.report().regions
    assert [r.kind for r in regions] == ["gather_scatter", "finish_rows"]     # the ReLU runs once rows are final
    # lookups: index elements resolved, the 4 edges' sources and their destinations
    assert "mul" in regions[0].name and "relu" in regions[0].name and regions[0].lookups == 2 * 4


def _spread(i: torch.Tensor) -> torch.Tensor:
    """A row index as a scatter's index (how PyTorch Geometric writes row scatters)."""
    return i[:, None].expand(-1, 2)


@pytest.mark.parametrize("fn, eager_type, written", [
    (lambda x, i: x.index_select(0, i), IndexError, "index_select"),
    (lambda x, i: x[i], IndexError, "index"),
    (lambda x, i: torch.zeros(3, 2).index_add(0, i, x[: i.shape[0]]), RuntimeError, "index_add"),
    # row scatters written as broadcast scatters: rewritten to index_add / index_reduce, raised as written
    (lambda x, i: torch.zeros(3, 2).scatter_add(0, _spread(i), x[: i.shape[0]]), RuntimeError, "scatter_add"),
    (lambda x, i: torch.zeros(3, 2).scatter_reduce(0, _spread(i), x[: i.shape[0]], "amax"), RuntimeError,
     "scatter_reduce"),
    (lambda x, i: torch.zeros(3, 2).scatter_reduce(0, _spread(i), x[: i.shape[0]], "mean", include_self=False),
     RuntimeError, "scatter_reduce"),
    (lambda x, i: torch.zeros(3, 2).scatter_reduce(0, _spread(i), x[: i.shape[0]], "sum"), RuntimeError,
     "scatter_reduce"),
], ids=["index_select", "getitem", "index_add", "scatter_add", "scatter_amax", "scatter_mean", "scatter_sum"])
def test_out_of_range_index_raises_like_eager_and_names_the_value(fn, eager_type, written):
    x = torch.randn(3, 2)
    bad = torch.tensor([0, 7])
    with pytest.raises(eager_type):
        fn(x, bad)
    f = torch.compile(fn, backend="ember", options={"rest": "eager"})
    with pytest.raises(eager_type, match=rf"index 7 is out of bounds for dimension 0 with size 3 \({written} on"):
        f(x, bad)
    good = torch.tensor([2, 0])
    torch.testing.assert_close(f(x, good), fn(x, good))


SEGMENT = {  # one function (one code object) per reduction, so Dynamo caches them apart
    "sum": lambda d, l: torch.segment_reduce(d, "sum", lengths=l),
    "mean": lambda d, l: torch.segment_reduce(d, "mean", lengths=l),
    "max": lambda d, l: torch.segment_reduce(d, "max", lengths=l),
    "min": lambda d, l: torch.segment_reduce(d, "min", lengths=l),
    "prod": lambda d, l: torch.segment_reduce(d, "prod", lengths=l),
}


@pytest.mark.parametrize("reduce", list(SEGMENT))
@settings(max_examples=6, deadline=None)
@given(lengths=st.lists(st.integers(0, 4), min_size=1, max_size=6), cols=st.integers(1, 5), seed=st.integers(0, 99))
def test_segment_reduce_matches_eager_with_empty_segments(reduce, lengths, cols, seed):
    key = f"segment_{reduce}"
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(SEGMENT[reduce], backend="ember", options={"rest": "eager"}, dynamic=True)
    lengths = torch.tensor(lengths)
    data = torch.randn(int(lengths.sum()), cols, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    torch_ember.reset()
    got, want = _COMPILED[key](data, lengths), torch.segment_reduce(data, reduce, lengths=lengths)
    torch.testing.assert_close(got, want, equal_nan=True)
    assert [r.kind for r in torch_ember.report().regions] == ["segment_reduce"]
    finite = torch.isfinite(want)
    (g,) = torch.autograd.grad(got[finite].sum(), [data])
    (e,) = torch.autograd.grad(want[finite].sum(), [data])
    torch.testing.assert_close(g, e, equal_nan=True)


@pytest.mark.parametrize("reduce", ["max", "min"])
@settings(max_examples=8, deadline=None)
@given(lengths=st.lists(st.integers(0, 5), min_size=1, max_size=6), cols=st.integers(1, 4), seed=st.integers(0, 999),
       nans=st.integers(0, 3))
def test_segment_max_and_min_backward_share_among_ties_as_eager_does(reduce, lengths, cols, seed, nans):
    """Ties (values drawn from a few integers), NaNs (a NaN result ties with nothing but NaNs), empty
    segments and negative gradients (PyTorch divides only positive ones among ties), against eager."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    data = torch.randint(0, 3, (int(lengths.sum()), cols), generator=generator).float()
    data.view(-1)[torch.randperm(data.numel(), generator=generator)[:nans]] = float("nan")
    _check_segment_backward(reduce, data, lengths, generator, first_program="segment_ties")


def _check_segment_backward(reduce, data, lengths, generator, first_program):
    """The compiled reduction and its backward (a random gradient) equal eager, NaNs included, and the
    backward ran ``first_program`` on the device before its own program."""
    key = f"segment_{reduce}"
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(SEGMENT[reduce], backend="ember", options={"rest": "eager"}, dynamic=True)
    data.requires_grad_()
    grad = torch.randn(lengths.numel(), data.shape[1], generator=generator)
    torch_ember.reset()
    got, want = _COMPILED[key](data, lengths), torch.segment_reduce(data, reduce, lengths=lengths)
    torch.testing.assert_close(got, want, equal_nan=True)
    (g,) = torch.autograd.grad(got, [data], grad)
    (e,) = torch.autograd.grad(want, [data], grad)
    torch.testing.assert_close(g, e, equal_nan=True)
    assert [r.kind for r in torch_ember.report().regions] == ["segment_reduce", first_program,
                                                             "segment_reduce_backward"]


_SPECIAL = [0.0, 0.0, float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.5, -2.0]


@settings(max_examples=10, deadline=None)
@given(lengths=st.lists(st.integers(0, 5), min_size=1, max_size=6), cols=st.integers(1, 4), seed=st.integers(0, 999),
       specials=st.integers(0, 6))
def test_segment_prod_backward_matches_eager_with_zeros_nans_and_infinities(lengths, cols, seed, specials):
    """Zeros (one or several per segment), NaNs, infinities and products that overflow, against eager."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    data = torch.randint(-3, 4, (int(lengths.sum()), cols), generator=generator).float()
    picks = torch.randperm(data.numel(), generator=generator)[:specials]
    data.view(-1)[picks] = torch.tensor(_SPECIAL)[torch.randint(0, len(_SPECIAL), (picks.numel(),), generator=generator)]
    _check_segment_backward("prod", data, lengths, generator, first_program="segment_products")


@pytest.mark.parametrize("column", [[1e30, 1e30, 0.0, 0.0, 2.0], [0.0, 0.0, 1e30, 1e30, 2.0]])
def test_a_product_that_overflows_beside_zeros_is_decided_as_eager_decides_it(column):
    """The others of each zero hold a zero and overflow: NaN where the overflow comes first, else 0, which
    the counts cannot tell (the launch finishes such a region on the host)."""
    data = torch.tensor(column).view(-1, 1).requires_grad_()
    lengths = torch.tensor([5])
    compiled = torch.compile(SEGMENT["prod"], backend="ember", options={"rest": "eager"})
    (g,) = torch.autograd.grad(compiled(data, lengths), [data], torch.ones(1, 1))
    (e,) = torch.autograd.grad(torch.segment_reduce(data, "prod", lengths=lengths), [data], torch.ones(1, 1))
    torch.testing.assert_close(g, e, equal_nan=True)


@pytest.mark.parametrize("fn", [
    lambda x, i: x[i],
    lambda x, i: torch.zeros_like(x).index_put((i,), x[: i.shape[0]] * 2, accumulate=True),
    lambda x, i: torch.zeros_like(x).index_put((i,), x[i], accumulate=True),        # fused message passing
], ids=["getitem", "index_put", "fused"])
def test_negative_indices_count_from_the_end_in_advanced_indexing(fn):
    x, i = torch.randn(6, 3), torch.tensor([-1, 2, -6, 0])
    f = torch.compile(fn, backend="ember", options={"rest": "eager"})
    with torch.no_grad():
        torch.testing.assert_close(f(x, i), fn(x, i))
        with pytest.raises(IndexError, match="index -7 is out of bounds for dimension 0 with size 6"):
            f(x, torch.tensor([1, -7]))


def test_relu_and_constant_scale_after_a_lookup_become_its_epilogue():
    torch.manual_seed(0)
    bag, table = torch.nn.EmbeddingBag(20, 4, mode="mean"), torch.randn(9, 4, requires_grad=True)

    def f(i, o):
        return (bag(i, o).relu() * 0.5).sum() + table[i % 9].relu().mul(3.0).pow(2).sum()

    compiled = torch.compile(f, backend="ember", options={"rest": "eager"})
    i, o = torch.randint(0, 20, (10,)), torch.tensor([0, 4, 4, 7])
    params = list(bag.parameters()) + [table]
    torch_ember.reset()
    got, want = compiled(i, o), f(i, o)
    torch.testing.assert_close(got, want)
    for a, b in zip(torch.autograd.grad(got, params), torch.autograd.grad(want, params)):
        torch.testing.assert_close(a, b)
    names = [r.name for r in torch_ember.report().regions]
    assert any(n.startswith("embedding_bag_mean_relu") for n in names), names    # the scale feeds backward
    torch_ember.reset()
    with torch.no_grad():
        torch.testing.assert_close(compiled(i, o), f(i, o))
    names = [r.name for r in torch_ember.report().regions]
    assert any(n.startswith("embedding_bag_mean_relu_scale") for n in names), names
    assert any(n.startswith("gather_rows_relu_scale") for n in names), names


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
def test_relu_after_a_segment_reduction_is_stored_by_its_region_empty_segments_included(reduce):
    data = torch.randn(7, 3, requires_grad=True)
    lengths = torch.tensor([2, 0, 4, 1])        # an empty segment: its identity (nan for mean) goes through ReLU

    def f(data, lengths):
        return torch.segment_reduce(data, reduce, lengths=lengths).relu() * 2.0

    torch._dynamo.reset()      # one code object, five reductions, two grad modes: past Dynamo's recompile limit
    torch_ember.reset()
    compiled = torch.compile(f, backend="ember", options={"rest": "eager"})
    got, want = compiled(data, lengths), f(data, lengths)
    torch.testing.assert_close(got, want, equal_nan=True)
    grad = torch.randn_like(want)
    torch.testing.assert_close(torch.autograd.grad(got, data, grad), torch.autograd.grad(want, data, grad),
                               equal_nan=True)
    kinds = {r.kind for r in torch_ember.report().regions}
    assert "segment_reduce_backward" in kinds, kinds
    torch_ember.reset()
    with torch.no_grad():     # in training the backward reads the bare reduction, so the ReLU stays apart
        torch.testing.assert_close(compiled(data, lengths), want.detach(), equal_nan=True)
    names = [r.name for r in torch_ember.report().regions]
    assert names == [f"segment_reduce_{reduce}_relu_scale:f.data"], names     # f's argument data


SCATTERS_THEN_RELU = {
    "index_add": lambda x, i, s, w: torch.relu(torch.zeros(5, 3).index_add(0, i, s)),
    "index_add_alpha": lambda x, i, s, w: torch.relu(x[:5].index_add(0, i, s, alpha=-2.0)),
    "mean_without_self": lambda x, i, s, w: torch.relu(x[:5].index_reduce(0, i, s, "mean", include_self=False)) * 3.0,
    "amax": lambda x, i, s, w: torch.relu(x[:5].index_reduce(0, i, s, "amax")),
    "message_passing": lambda x, i, s, w: torch.relu(torch.zeros(5, 3).index_add(0, i, x[i + 1] * w.view(-1, 1))),
    "message_passing_mean": lambda x, i, s, w: torch.relu(
        x[:5].index_reduce(0, i, x[i + 1], "mean", include_self=True)),
}


@pytest.mark.parametrize("name", list(SCATTERS_THEN_RELU))
def test_relu_after_a_row_scatter_runs_in_a_finishing_program_once_every_row_is_final(name):
    fn = SCATTERS_THEN_RELU[name]
    torch.manual_seed(0)
    x, src, w = torch.randn(7, 3), torch.randn(6, 3), torch.rand(6)
    i = torch.tensor([0, 3, 3, 1, 0, 3])            # duplicates, and rows 2 and 4 get nothing
    compiled = torch.compile(fn, backend="ember", options={"rest": "eager", "verify": True})
    torch_ember.reset()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, i, src, w), fn(x, i, src, w))
    kinds = [r.kind for r in torch_ember.report().regions]
    assert kinds.count("finish_rows") == 1 and len(kinds) == 2, kinds
    assert all("relu" in r.name for r in torch_ember.report().regions), torch_ember.report()


def test_a_scatter_with_its_relu_fused_trains_like_eager():
    torch.manual_seed(0)
    x, src = torch.randn(7, 3, requires_grad=True), torch.randn(6, 3, requires_grad=True)
    i = torch.tensor([0, 3, 3, 1, 0, 3])

    def fn(x, src, i):
        return torch.relu(x[:5].index_add(0, i, src)).pow(2).sum()

    compiled = torch.compile(fn, backend="ember", options={"rest": "eager"})
    torch_ember.reset()
    got, want = compiled(x, src, i), fn(x, src, i)
    torch.testing.assert_close(got, want)
    for g, e in zip(torch.autograd.grad(got, (x, src)), torch.autograd.grad(want, (x, src))):
        torch.testing.assert_close(g, e)
    assert "finish_rows" in [r.kind for r in torch_ember.report().regions]
