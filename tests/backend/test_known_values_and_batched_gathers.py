"""The fx passes that feed the new SLC passes: index and offsets tensors made by ``torch.arange`` in the
graph become known values in the region's spec; row gathers through index tensors of one length become one
batched region (a table they share passed once). Results stay eager PyTorch's, forward and backward."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

import torch_ember
from torch_ember import dynamo_backend
from torch_ember.region_spec import RegionKind, RegionSpec, SourceOp
from torch_ember.dynamo_backend import ember_backend
from torch_ember.options import EmberOptions
from torch_ember.region_op import launch_region


@pytest.fixture
def specs():
    seen = []

    def observe(state):
        seen.extend((state.graph_kind.value, m.spec) for m in state.matches)
    torch._dynamo.reset()
    torch_ember.reset()
    yield seen, lambda gm, ex: ember_backend(gm, ex, {"rest": "eager"}, observer=observe)


class Lookups(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.pos = torch.nn.Parameter(torch.randn(16, 8, generator=g))
        self.keys = torch.nn.Parameter(torch.randn(40, 8, generator=g))
        self.entity = torch.nn.Parameter(torch.randn(30, 8, generator=g))
        self.relation = torch.nn.Parameter(torch.randn(5, 8, generator=g))

    def forward(self, x, picks, head, rel, tail):
        positions = F.embedding(torch.arange(x.shape[1]), self.pos)          # positional embedding
        pooled = F.embedding_bag(picks, self.keys, mode="sum")               # 2-D input: k rows per bag
        score = (self.entity[head] * self.relation.index_select(0, rel) * self.entity[tail]).sum(-1)
        return (x + positions).sum(), pooled, score


def _inputs():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(2, 10, 8, generator=g), torch.randint(0, 40, (6, 3), generator=g),
            torch.randint(0, 30, (7,), generator=g), torch.randint(0, 5, (7,), generator=g),
            torch.randint(0, 30, (7,), generator=g))


def test_aranges_become_known_values_and_the_kg_gathers_one_batched_region(specs):
    specs, backend = specs
    model, inputs = Lookups(), _inputs()
    compiled = torch.compile(model, backend=backend)
    with torch.no_grad():
        for got, want in zip(compiled(*inputs), model(*inputs)):
            torch.testing.assert_close(got, want)
    by_kind = {spec.kind: spec for _, spec in specs}
    assert by_kind[RegionKind.EMBEDDING].arange == (("indices", 0, 1),)
    assert by_kind[RegionKind.EMBEDDING_BAG].arange == (("offsets", 0, 3),)
    batched = by_kind[RegionKind.BATCHED]
    assert [p.kind for p in batched.parts] == [RegionKind.GATHER_ROWS] * 3
    assert batched.shared == (("t2_table", "t0_table"),)
    assert batched.same_length == (("t1_indices", "t0_indices"), ("t2_indices", "t0_indices"))
    assert {r.kind for r in torch_ember.report().regions} == {"embedding", "embedding_bag", "batched"}


def test_training_through_batched_gathers_matches_eager(specs):
    specs, backend = specs
    model, inputs = Lookups(), _inputs()
    twin = Lookups()
    compiled = torch.compile(model, backend=backend)
    got, want = compiled(*inputs), twin(*inputs)
    loss_got = sum(t.square().sum() for t in got)
    loss_want = sum(t.square().sum() for t in want)
    torch.testing.assert_close(loss_got, loss_want)
    loss_got.backward()
    loss_want.backward()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    assert any(spec.kind is RegionKind.BATCHED for kind, spec in specs if kind == "forward")


def test_a_gather_whose_index_needs_another_gathers_output_stays_apart(specs):
    specs, backend = specs
    a, b = torch.randn(20, 4), torch.randn(2, 4)

    def f(i):
        first = a[i]
        return b[(first[:, 0] > 0).long()] + first
    i = torch.randint(0, 20, (9,))
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(f, backend=backend)(i), f(i))
    assert [spec.kind for _, spec in specs] == [RegionKind.GATHER_ROWS, RegionKind.GATHER_ROWS]


def test_a_bag_of_uneven_length_is_not_given_fixed_pooling(specs):
    specs, backend = specs
    table = torch.randn(10, 4)

    def f(i):               # arange offsets, but the last bag holds 2 rows, not 3
        return F.embedding_bag(i, table, torch.arange(0, 9, 3), mode="sum")
    i = torch.randint(0, 10, (8,))
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(f, backend=backend)(i), f(i))
    assert [spec.arange for _, spec in specs] == [()]


def test_the_launch_checks_a_known_value_before_it_trusts_it():
    spec = RegionSpec(RegionKind.EMBEDDING_BAG, "t", arange=(("offsets", 0, 2),))
    settings = EmberOptions()
    table, indices = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 4, 0])
    good = launch_region(spec, settings, [table, indices, torch.tensor([0, 2, 4])])
    plain = dataclasses.replace(spec, arange=())
    torch.testing.assert_close(good[0], launch_region(plain, settings, [table, indices, torch.tensor([0, 2, 4])])[0])
    with pytest.raises(RuntimeError, match="compiled as arange"):
        launch_region(spec, settings, [table, indices, torch.tensor([0, 1, 4])])


def test_two_gathers_through_one_wrapping_index_share_it():
    gather = RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp.INDEX)
    spec = RegionSpec(RegionKind.BATCHED, "xx", parts=(gather, gather),
                      shared=(("t1_table", "t0_table"), ("t1_indices", "t0_indices")))
    x, i = torch.randn(10, 4), torch.tensor([1, -1, 3])      # -1 wraps: the program gets a new index tensor
    settings = EmberOptions()
    for got in launch_region(spec, settings, [x, i, x, i]):
        torch.testing.assert_close(got, x[i])
    with pytest.raises(ValueError, match="compiled as one tensor"):
        launch_region(spec, settings, [x, i, x, i.flip(0)])
