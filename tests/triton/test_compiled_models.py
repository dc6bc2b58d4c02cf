"""``torch.compile(..., backend="ember", options={"regions": "triton"})`` end to end: the model's lookups
become regions run by the Triton kernels (here interpreted on the CPU), forward and backward agree with
eager, and the option is validated and carried to every region call."""
import copy
import json

import pytest
import torch
import torch.nn as nn

import torch_ember
import torch_ember.triton.device
from torch_ember.options import EmberOptions

pytestmark = pytest.mark.slow


@pytest.fixture
def regions_run(monkeypatch):
    """The kinds of the regions the Triton path ran, in order."""
    kinds = []
    run = torch_ember.triton.device.run_region

    def counted(spec, args):
        kinds.append(spec.kind.value)
        return run(spec, args)

    monkeypatch.setattr(torch_ember.triton.device, "run_region", counted)
    return kinds


class TwoTables(nn.Module):
    def __init__(self):
        super().__init__()
        self.sum_bag = nn.EmbeddingBag(40, 12, mode="sum")
        self.max_bag = nn.EmbeddingBag(30, 12, mode="max")
        self.top = nn.Linear(24, 1)

    def forward(self, i1, o1, w1, i2, o2):
        pooled = [self.sum_bag(i1, o1, per_sample_weights=w1), self.max_bag(i2, o2)]
        return self.top(torch.cat(pooled, dim=1)).squeeze(1)


def test_embedding_bags_forward_and_backward_match_eager(regions_run):
    torch.manual_seed(0)
    eager = TwoTables()
    compiled = torch.compile(copy.deepcopy(eager), backend="ember", options={"regions": "triton", "rest": "eager"})
    i1, o1, w1 = torch.randint(0, 40, (20,)), torch.tensor([0, 3, 3, 11, 15]), torch.rand(20, requires_grad=True)
    i2, o2 = torch.randint(0, 30, (9,)), torch.tensor([0, 2, 5, 5, 7])
    w1_eager = w1.detach().clone().requires_grad_()
    want, got = eager(i1, o1, w1_eager, i2, o2), compiled(i1, o1, w1, i2, o2)
    torch.testing.assert_close(got, want)
    want.sum().backward()
    got.sum().backward()
    for (name, g), e in zip(compiled.named_parameters(), eager.parameters()):
        torch.testing.assert_close(g.grad, e.grad, msg=name)
    torch.testing.assert_close(w1.grad, w1_eager.grad)
    # the two tables' forward bags run as one batched region (one embedding_bags launch)
    assert {"batched", "embedding_bag_backward", "embedding_bag_max_backward",
            "embedding_bag_weights_backward"} <= set(regions_run)


def test_message_passing_layer_matches_eager(regions_run):
    def layer(x, src, dst, norm):
        return torch.zeros_like(x).index_add(0, dst, x[src] * norm.view(-1, 1))

    x = torch.randn(10, 8, requires_grad=True)
    src, dst, norm = torch.randint(0, 10, (30,)), torch.randint(0, 10, (30,)), torch.rand(30)
    compiled = torch.compile(layer, backend="ember", options={"regions": "triton", "rest": "eager", "verify": True})
    x2 = x.detach().clone().requires_grad_()
    torch.testing.assert_close(compiled(x2, src, dst, norm), layer(x, src, dst, norm))
    compiled(x2, src, dst, norm).pow(2).sum().backward()
    layer(x, src, dst, norm).pow(2).sum().backward()
    torch.testing.assert_close(x2.grad, x.grad)
    assert "gather_scatter" in regions_run


def test_triton_launches_are_reported_as_measured_kernels_not_dae_regions():
    def layer(x, src):
        return x[src] * 2.0

    torch_ember.reset()
    compiled = torch.compile(layer, backend="ember", options={"regions": "triton", "rest": "eager"})
    x, src = torch.randn(12, 4), torch.randint(0, 12, (7,))
    for _ in range(3):
        torch.testing.assert_close(compiled(x, src), layer(x, src))
    report = torch_ember.report()
    assert not report.regions
    [kernel] = report.kernels
    assert kernel.launches == 3 and kernel.seconds > 0 and kernel.device == "cpu (Triton interpreter)"
    assert "run as Triton kernels (measured, not modeled):" in str(report)
    torch_ember.reset()
    assert not torch_ember.report().kernels


def test_the_option_is_validated_and_travels_with_every_region():
    with pytest.raises(ValueError, match="'dae' or 'triton'"):
        EmberOptions.from_dict({"regions": "cuda"})
    from torch_ember.region_call import RegionCall
    from torch_ember.region_spec import RegionKind, RegionSpec
    call = RegionCall(RegionSpec(RegionKind.EMBEDDING, "t"), EmberOptions(regions="triton"))
    assert RegionCall.from_json(call.to_json()).options.regions == "triton"
    assert EmberOptions().regions == "dae"
