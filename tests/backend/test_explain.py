"""``torch_ember.explain``: regions lowered (kinds, shapes, fusions) and lookups left on the host."""
import pytest
import torch
import torch.nn as nn
import torch_ember

pytestmark = pytest.mark.slow


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(10, 4, mode="mean")
        self.freq = nn.Embedding(10, 4, scale_grad_by_freq=True)
        self.lin = nn.Linear(4, 4)

    def forward(self, i, o, src, dst):
        h = self.bag(i, o)
        h = torch.zeros_like(h).index_add(0, dst, self.lin(h)[src])
        return h.sum() + self.freq(i).sum()


def test_explain_lists_regions_fusions_and_host_ops_without_touching_grads(capsys):
    model = Mixed()
    args = torch.tensor([1, 2, 3, 4]), torch.tensor([0, 2]), torch.tensor([0, 1, 1]), torch.tensor([1, 0, 0])
    explanation = torch_ember.explain(model, *args)
    printed = capsys.readouterr().out
    forward = [r for r in explanation.regions if r.graph == "forward"]
    assert {r.kind for r in forward} == {"embedding_bag", "gather_scatter"}
    bag = next(r for r in forward if r.kind == "embedding_bag")
    assert bag.table == "bag.weight" and bag.input_shapes[0] == "float32[10, 4]"
    fused = next(r for r in forward if r.kind == "gather_scatter")
    assert fused.fused == ("index", "index_add")
    assert any(r.graph == "backward" and r.kind == "embedding_bag_backward" for r in explanation.regions)
    reasons = {(h.op, h.reason) for h in explanation.host_ops}
    assert any("embedding" in op and "scale_grad_by_freq" in reason for op, reason in reasons)
    assert "fused: index -> index_add" in printed and "left on the host" in printed
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_explain_says_why_a_sparse_input_stays_on_the_host_under_torch_compile(layout):
    a = torch.sparse_coo_tensor(torch.tensor([[0, 1, 2], [1, 0, 2]]), torch.rand(3), (3, 3)).coalesce()
    a = a.to_sparse_csr() if layout == "csr" else a
    explanation = torch_ember.explain(lambda a, x: torch.sparse.mm(a, x), a, torch.randn(3, 4), verbose=False)
    assert explanation.regions == ()
    (host,) = explanation.host_ops
    assert host.op == f"input 0 (sparse_{layout})" and "compile_exported" in host.reason, host


def test_explain_says_so_when_nothing_is_left_on_the_host():
    import torch
    import torch.nn as nn
    import torch_ember
    text = str(torch_ember.explain(nn.Embedding(10, 4), torch.tensor([1, 2])))
    assert text.splitlines()[-1] == "no lookup-like op left on the host"


def test_explain_leaves_the_model_s_buffers_and_the_report_alone():
    """It ran the model in training mode in the current session: a BatchNorm's running statistics moved and
    report() counted its launches."""
    class Normed(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.bn = nn.Embedding(20, 8), nn.BatchNorm1d(8)

        def forward(self, i):
            return self.bn(self.emb(i))

    torch.manual_seed(0)
    model = Normed()
    before = {name: b.clone() for name, b in model.named_buffers()}
    torch_ember.reset()
    explanation = torch_ember.explain(model, torch.randint(0, 20, (6,)), verbose=False)
    assert explanation.regions
    assert all(torch.equal(b, before[name]) for name, b in model.named_buffers())
    assert torch_ember.report().regions == ()


def test_explain_takes_compile_exported_s_result_as_its_program():
    """``explain(compile_exported(ep), x)`` traced the wrapper module and said '0 region(s)'."""
    bag, ids = torch.nn.EmbeddingBag(50, 4, mode="mean"), torch.randint(0, 50, (4, 3))
    program = torch.export.export(bag, (ids,))
    compiled = torch_ember.compile_exported(program, {"vector_width": 2})
    got = torch_ember.explain(compiled, ids, verbose=False)
    assert [r.op for r in got.regions] == [r.op for r in torch_ember.explain(program, ids, verbose=False).regions]
    assert [r.kind for r in got.regions] == ["embedding_bag"]
