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
