"""Sparse @ dense (``torch.sparse.mm``, ``a @ x``) from ``torch.export`` programs: COO lowers to one fused
gather-scatter region, CSR to a weighted-sum bag; both equal eager on any sparsity pattern."""
import warnings

import pytest
import torch
from hypothesis import given, settings, strategies as st

import torch_ember
from torch_ember import compile_exported

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
ROWS, COLS, WIDTH = 6, 5, 3


class SparseMM(torch.nn.Module):
    def forward(self, a, x):
        return torch.relu(torch.sparse.mm(a, x))


class MeanOfRows(torch.nn.Module):
    """PyTorch Geometric's SAGEConv aggregation on a CSR adjacency."""

    def forward(self, a, x):
        return torch.sparse.mm(a, x, reduce="mean")


class MatmulOperator(torch.nn.Module):
    def forward(self, a, x):
        return (a @ x) * 2.0


def _coo(entries, values, coalesce=False):
    index = torch.tensor(entries, dtype=torch.int64).reshape(-1, 2).T
    a = torch.sparse_coo_tensor(index, torch.tensor(values, dtype=torch.float32), (ROWS, COLS))
    return a.coalesce() if coalesce else a


def _compiled(model, layout):
    example = _coo([(0, 1), (2, 3)], [1.0, 2.0], coalesce=True)
    example = example.to_sparse_csr() if layout == "csr" else example
    return compile_exported(torch.export.export(model, (example, torch.randn(COLS, WIDTH))))


COMPILED = {}


def compiled(model_type, layout):
    key = (model_type, layout)
    if key not in COMPILED:
        COMPILED[key] = _compiled(model_type(), layout)
    return COMPILED[key]


entries = st.lists(st.tuples(st.integers(0, ROWS - 1), st.integers(0, COLS - 1)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(entries=entries, layout=st.sampled_from(["coo", "coo-coalesced", "csr"]),
       model_type=st.sampled_from([SparseMM, MatmulOperator, MeanOfRows]), seed=st.integers(0, 2**16))
def test_sparse_times_dense_equals_eager_with_duplicates_and_empty_rows(entries, layout, model_type, seed):
    if model_type is MeanOfRows and layout != "csr":
        layout = "csr"                                       # PyTorch reduces only CSR rows
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(len(entries), generator=g).tolist()
    a = _coo(entries, values, coalesce=layout != "coo")      # uncoalesced COO keeps duplicate entries
    a = a.to_sparse_csr() if layout == "csr" else a
    x = torch.randn(COLS, WIDTH, generator=g)
    program = compiled(model_type, "csr" if layout == "csr" else "coo")
    with torch.no_grad():
        torch.testing.assert_close(program(a, x), model_type()(a, x), rtol=1e-5, atol=1e-5)


def test_coo_becomes_one_gather_scatter_region_and_csr_a_bag_each_with_its_relu_fused():
    a = _coo([(0, 1), (0, 1), (3, 4), (5, 0)], [1.0, -2.0, 0.5, 3.0])
    x = torch.randn(COLS, WIDTH)
    coo = torch_ember.explain(torch.export.export(SparseMM(), (a, x)), a, x, verbose=False)
    assert [(r.kind, r.fused) for r in coo.regions] == [("gather_scatter", ("index_select", "mul", "index_add", "relu"))]
    csr = a.to_sparse_csr()
    bag = torch_ember.explain(torch.export.export(SparseMM(), (csr, x)), csr, x, verbose=False)
    assert [(r.kind, r.fused) for r in bag.regions] == [("embedding_bag", ("relu",))]


class Layer(torch.nn.Module):
    """A graph convolution on a sparse adjacency: relu(A @ (x W))."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(WIDTH, WIDTH))

    def forward(self, a, x):
        return torch.relu(torch.sparse.mm(a, x @ self.weight))


def test_training_through_a_coo_product_lowers_its_backward_and_matches_eager_gradients():
    torch.manual_seed(0)
    layer, x = Layer(), torch.randn(COLS, WIDTH, requires_grad=True)
    a = _coo([(0, 1), (0, 1), (3, 4), (5, 0), (2, 2)], [1.0, -2.0, 0.5, 3.0, 1.5])
    program = compile_exported(torch.export.export(layer, (a, x)))
    torch_ember.reset()
    got = program(a, x)
    want = layer(a, x)
    torch.testing.assert_close(got, want)
    params = [x, layer.weight]
    for g, e in zip(torch.autograd.grad(got.pow(2).sum(), params), torch.autograd.grad(want.pow(2).sum(), params)):
        torch.testing.assert_close(g, e)
    kinds = [r.kind for r in torch_ember.report().regions]
    assert kinds.count("gather_scatter") == 2, kinds      # A @ (xW) forward, A.t() @ grad backward
    with torch.no_grad():                                 # the inference module, same answer
        torch.testing.assert_close(program(a, x), want.detach())


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_training_through_a_csr_product_lowers_it_to_a_bag_and_matches_eager_gradients(reduce):
    class CsrLayer(Layer):
        def forward(self, a, x):
            return torch.relu(torch.sparse.mm(a, x @ self.weight, reduce=reduce))

    torch.manual_seed(0)
    layer, x = CsrLayer(), torch.randn(COLS, WIDTH, requires_grad=True)
    a = _coo([(0, 1), (0, 3), (3, 4), (5, 0), (2, 2)], [1.0, -2.0, 0.5, 3.0, 1.5], coalesce=True).to_sparse_csr()
    program = compile_exported(torch.export.export(layer, (a, x)))
    torch_ember.reset()
    got, want = program(a, x), layer(a, x)
    torch.testing.assert_close(got, want)
    params = [x, layer.weight]
    for g, e in zip(torch.autograd.grad(got.pow(2).sum(), params), torch.autograd.grad(want.pow(2).sum(), params)):
        torch.testing.assert_close(g, e)
    assert [r.kind for r in torch_ember.report().regions] == ["embedding_bag", "embedding_bag_backward"]
    b = _coo([(1, 1), (4, 0)], [2.0, 1.0], coalesce=True)     # other entries, same shape: the same program
    torch.testing.assert_close(program(b.to_sparse_csr(), x), layer(b.to_sparse_csr(), x))
    with pytest.raises(RuntimeError, match="input a was a sparse_csr tensor when this program was compiled"):
        program(b, x)


def test_training_refuses_other_compressed_layouts_learnable_csr_values_and_other_shapes_by_name():
    x = torch.randn(COLS, WIDTH, requires_grad=True)
    a = _coo([(0, 1), (3, 4)], [1.0, 2.0], coalesce=True)
    csc_program = compile_exported(torch.export.export(Layer(), (a.to_sparse_csc(), x)))
    with pytest.raises(RuntimeError, match="input a is a torch.sparse_csc tensor, which AOTAutograd cannot trace"):
        csc_program(a.to_sparse_csc(), x)
    with torch.no_grad():
        assert csc_program(a.to_sparse_csc(), x).shape == (ROWS, WIDTH)
    csr_program = compile_exported(torch.export.export(Layer(), (a.to_sparse_csr(), x)))
    with pytest.raises(RuntimeError, match="sparse_csr tensor whose values need a gradient"):
        csr_program(a.to_sparse_csr().requires_grad_(), x)
    program = compile_exported(torch.export.export(Layer(), (a, x)))
    program(a, x)
    with pytest.raises(RuntimeError, match=r"input x has shape \(4, 3\), but the program was exported for shape \(5, 3\)"):
        program(a, torch.randn(COLS - 1, WIDTH, requires_grad=True))


def test_an_index_past_the_dense_rows_is_named():
    bad = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, COLS + 3]]), torch.ones(2), (ROWS, COLS),
                                  check_invariants=False)     # a column the matrix does not have
    with torch.no_grad(), pytest.raises(IndexError, match=f"index {COLS + 3} is out of bounds for dimension 0 "
                                                          f"with size {COLS}"):
        compiled(SparseMM, "coo")(bad, torch.randn(COLS, WIDTH))


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="ExportedProgram"):
        compile_exported(SparseMM())
    program = torch.export.export(SparseMM(), (_coo([(0, 0)], [1.0], coalesce=True), torch.randn(COLS, WIDTH)))
    with pytest.raises(ValueError, match="'rest' must be 'eager'"):
        compile_exported(program, {"rest": "inductor"})


def test_a_csr_matrix_made_inside_the_graph_from_a_coo_one_trains_through_the_coo_one():
    class ToCsr(torch.nn.Module):          # what PyTorch Geometric's GCNConv and GINConv do with a COO adjacency
        def forward(self, a, x):
            return torch.sparse.mm(a.to_sparse_csr(), x)

    class ToCsrMean(torch.nn.Module):      # PyTorch Geometric's SAGEConv: a mean over the coalesced entries
        def forward(self, a, x):
            return torch.sparse.mm(a.to_sparse_csr(), x, reduce="mean")

    a = _coo([(0, 1), (3, 4), (0, 1), (5, 2)], [1.0, 2.0, -1.0, 0.5])     # a duplicate entry: summed either way
    x = torch.randn(COLS, WIDTH, requires_grad=True)
    program = compile_exported(torch.export.export(ToCsr(), (a, x)))
    torch_ember.reset()
    got, want = program(a, x), ToCsr()(a, x)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.autograd.grad(got.pow(2).sum(), x), torch.autograd.grad(want.pow(2).sum(), x))
    assert [r.kind for r in torch_ember.report().regions] == ["gather_scatter", "gather_scatter"]
    mean = compile_exported(torch.export.export(ToCsrMean(), (a, x)))
    torch_ember.reset()
    got, want = mean(a, x), ToCsrMean()(a, x)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.autograd.grad(got.pow(2).sum(), x), torch.autograd.grad(want.pow(2).sum(), x))
    assert [r.kind for r in torch_ember.report().regions] == ["scatter_rows", "gather_scatter", "gather_scatter"]
