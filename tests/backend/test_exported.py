"""``torch_ember.compile_exported`` trains a program exported with dynamic shapes at every shape its export
allows, as its inference calls run, and refuses the shapes the export does not allow."""
import pytest
import torch
import torch.nn as nn

import torch_ember


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.head = nn.Embedding(60, 16), nn.Linear(16, 4)

    def forward(self, ids):
        return self.head(self.tok(ids))


def _grads(model, call, ids):
    model.zero_grad()
    out = call(ids)
    (out * torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape).sin()).sum().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.slow
def test_a_dynamic_export_trains_at_every_shape_it_allows():
    """The training graph was compiled once, at the first call's shapes: training at any other shape raised
    'the program was exported for shape (3, 6)', though the export allowed it."""
    torch.manual_seed(0)
    model = TinyLM()
    batch, length = torch.export.Dim("batch", min=2, max=64), torch.export.Dim("length", min=2, max=12)
    program = torch.export.export(model, (torch.randint(0, 60, (3, 6)),),
                                  dynamic_shapes={"ids": {0: batch, 1: length}})
    compiled = torch_ember.compile_exported(program, {"rest": "eager", "timing": "full"})
    for shape in ((3, 6), (5, 9), (2, 12), (5, 9)):
        ids = torch.randint(0, 60, shape)
        want_out, want_grads = _grads(model, model, ids)
        got_out, got_grads = _grads(model, compiled, ids)
        torch.testing.assert_close(got_out, want_out)
        for got, want in zip(got_grads, want_grads):
            torch.testing.assert_close(got, want)
    outside = r"has shape \(4, 13\), but the program was exported for shape \(2\.\.64, 2\.\.12\)"
    with pytest.raises(RuntimeError, match=outside):
        compiled(torch.randint(0, 60, (4, 13))).sum().backward()


@pytest.mark.parametrize("make", [
    lambda: (nn.EmbeddingBag(50, 4, mode="sum"), (torch.randint(0, 50, (4, 3)),)),
    lambda: (nn.EmbeddingBag(50, 4, mode="max", padding_idx=0), (torch.randint(0, 50, (7,)), torch.tensor([0, 2, 2]))),
], ids=["sum_2d", "max_offsets_padding"])
def test_an_exported_bag_runs_on_the_device_in_inference(make):
    """torch.export keeps ``aten.embedding_bag.padding_idx``, which no lowering knew: the bag ran on the host
    under no_grad, unreported, and ``strict`` did not raise."""
    torch.manual_seed(0)
    bag, args = make()
    compiled = torch_ember.compile_exported(torch.export.export(bag, args), {"rest": "eager", "strict": True})
    with torch_ember.Session() as session, torch.no_grad():
        torch.testing.assert_close(compiled(*args), bag(*args))
    assert [r["op"].startswith(f"embedding_bag_{bag.mode}") for r in session.stats.report().records()] == [True]


class _Lookup(nn.Module):
    def __init__(self, lookup):
        super().__init__()
        self.lookup, self.weight = lookup, nn.Parameter(torch.randn(6, 4))

    def forward(self, index):
        return self.lookup(self.weight, index)


@pytest.mark.parametrize("lookup, index", [
    (lambda w, i: torch.take_along_dim(w, i, 0), torch.tensor([[5, 0, 2, 2], [1, 1, 0, 3]])),
    (lambda w, i: torch.take_along_dim(w, i, 1), torch.tensor([[3], [0], [1], [1], [2], [0]])),
    (lambda w, i: torch.take_along_dim(w, i, -1), torch.tensor([[3, 0]])),            # broadcast over rows
    (lambda w, i: torch.take_along_dim(w, i), torch.tensor([23, 0, 7])),               # flat
    (lambda w, i: torch.zeros(4, 4).index_put_((i,), w[: i.shape[0]], accumulate=True), torch.tensor([3, 0, 3])),
], ids=["dim0", "dim1", "broadcast", "flat", "index_put_"])
def test_lookups_torch_export_keeps_as_written_run_on_the_device(lookup, index):
    """torch.export keeps ``take_along_dim`` and in-place ``index_put_``, which AOTAutograd decomposes or
    makes functional: an exported program ran them on the host under no_grad, unreported."""
    model = _Lookup(lookup)
    compiled = torch_ember.compile_exported(torch.export.export(model, (index,)), {"strict": True})
    with torch_ember.Session() as session, torch.no_grad():
        torch.testing.assert_close(compiled(index), model(index))
    assert len(session.stats.report().records()) == 1


class _TwoTables(nn.Module):
    def __init__(self):
        super().__init__()
        self.user, self.item = nn.EmbeddingBag(50, 4, mode="sum"), nn.Embedding(30, 4)

    def forward(self, users, items):
        return self.user(users).sum(1) + self.item(items).sum(1)


def test_an_exported_program_names_its_tables_as_the_module_does_in_inference_and_training():
    """Inference named a table 'user.user_weight' and training 'p_user_weight' (export's placeholder), so one
    table had two names in the report and region_knobs patterns for the module's names matched neither."""
    model, users, items = _TwoTables(), torch.randint(0, 50, (4, 3)), torch.randint(0, 30, (4, 2))
    compiled = torch_ember.compile_exported(torch.export.export(model, (users, items)))
    with torch_ember.Session() as inference, torch.no_grad():
        compiled(users, items)
    with torch_ember.Session() as training:
        compiled(users, items).sum().backward()
    assert {r["region"] for r in inference.stats.report().records()} == {"user.weight", "item.weight"}
    assert {r["region"] for r in training.stats.report().records()} == {"user.weight", "item.weight"}
