"""The forms a real library writes are caught: PyTorch Geometric's GCNConv, SAGEConv and GINConv lower
completely, train like eager, and their message passing fuses into one region in inference; exported with
a sparse adjacency (``torch.sparse.mm``), each aggregates in one bag region, and trains like eager."""
import warnings

import pytest
import torch
import torch_ember

pyg_nn = pytest.importorskip("torch_geometric.nn")
pytestmark = pytest.mark.slow

CONVS = {
    "gcn": lambda: pyg_nn.GCNConv(8, 4),
    "sage": lambda: pyg_nn.SAGEConv(8, 4),
    "gin": lambda: pyg_nn.GINConv(torch.nn.Linear(8, 4)),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_pyg_convolutions_lower_and_train_like_eager(name):
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    conv = CONVS[name]()
    x, edges = torch.randn(40, 8), torch.randint(0, 40, (2, 200))
    torch._dynamo.reset()
    torch_ember.reset()
    compiled = torch.compile(conv, backend="ember", options={"rest": "eager"})
    out, ref = compiled(x, edges), conv(x, edges)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    got = torch.autograd.grad(out.pow(2).sum(), list(conv.parameters()))
    want = torch.autograd.grad(ref.pow(2).sum(), list(conv.parameters()))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    report = torch_ember.report()
    assert report.regions and not report.host_ops, str(report)

    torch_ember.reset()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, edges), ref.detach(), rtol=1e-5, atol=1e-5)
    assert "gather_scatter" in {r.kind for r in torch_ember.report().regions}


# GCNConv's own normalization of a sparse adjacency branches on its values, which torch.export refuses;
# PyTorch Geometric's docs normalize the adjacency once beforehand (``T.GCNNorm``), as the random values here do
SPARSE_CONVS = {**CONVS, "gcn": lambda: pyg_nn.GCNConv(8, 4, normalize=False)}


def _sparse_case(name, layout, requires_grad=False):
    """A convolution, 40 nodes of 8 features, and a 200-edge adjacency in ``layout``, from one seed."""
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    conv = SPARSE_CONVS[name]()
    x, edges = torch.randn(40, 8, requires_grad=requires_grad), torch.randint(0, 40, (2, 200))
    adj = torch.sparse_coo_tensor(edges.flip(0), torch.rand(200), (40, 40))
    return conv, x, adj.coalesce() if layout == "coo" else adj.to_sparse_csr()


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("name", list(SPARSE_CONVS))
def test_pyg_convolutions_on_a_sparse_adjacency_lower_when_exported(name, layout):
    conv, x, adj = _sparse_case(name, layout)
    program = torch.export.export(conv, (x, adj))
    explanation = torch_ember.explain(program, x, adj, verbose=False)
    assert [r.kind for r in explanation.regions] == ["embedding_bag"] and not explanation.host_ops
    with torch.no_grad():
        torch.testing.assert_close(torch_ember.compile_exported(program)(x, adj), conv(x, adj), rtol=1e-5, atol=1e-5)


# Trained through compile_exported, the backward lowered: on COO one gather-scatter each way (SAGEConv's
# mean over the CSR matrix the graph converts also counts each row's entries: a row scatter), on CSR a bag.
TRAINED_REGIONS = {"coo": ["gather_scatter", "gather_scatter"], "csr": ["embedding_bag", "embedding_bag_backward"]}


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("name", list(SPARSE_CONVS))
def test_pyg_convolutions_on_a_sparse_adjacency_train_like_eager_when_exported(name, layout):
    conv, x, adj = _sparse_case(name, layout, requires_grad=True)
    program = torch_ember.compile_exported(torch.export.export(conv, (x, adj)))
    torch_ember.reset()
    got, want = program(x, adj), conv(x, adj)
    params = [x, *conv.parameters()]
    for g, e in zip(torch.autograd.grad(got.pow(2).sum(), params), torch.autograd.grad(want.pow(2).sum(), params)):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
    kinds = [r.kind for r in torch_ember.report().regions]
    assert kinds == (["scatter_rows"] if (name, layout) == ("sage", "coo") else []) + TRAINED_REGIONS[layout], kinds
