"""Hugging Face's Mixtral sparse-MoE block (transformers) is caught as transformers writes it.

Its experts run through transformers' ``ExpertsInterface``. The ``grouped_mm`` and ``batched_mm``
implementations are static-shaped: their token dispatch (a row gather of the hidden states, sorted by
expert) or their expert-weight gathers become DAE regions, and the block's outputs and gradients equal
eager. The plain expert loop (``experts_implementation=None``) graph-breaks on ``nonzero``/``where`` in
Dynamo itself, so no graph ever holds its gathers: it runs correctly, with no region.
"""
import warnings

import pytest
import torch
import torch_ember

mixtral = pytest.importorskip("transformers.models.mixtral.modeling_mixtral")
pytestmark = pytest.mark.slow


def _block(implementation):
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    config = mixtral.MixtralConfig(hidden_size=32, intermediate_size=48, num_local_experts=4,
                                   num_experts_per_tok=2)
    config._experts_implementation = implementation
    block = mixtral.MixtralSparseMoeBlock(config)
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return block


def _output(result):
    return result[0] if isinstance(result, tuple) else result


@pytest.mark.parametrize("implementation, kinds", [("grouped_mm", {"gather_rows"}), ("batched_mm", {"batched"})])
def test_mixtral_experts_lower_their_gathers_and_train_like_eager(implementation, kinds):
    block = _block(implementation)
    x = torch.randn(2, 8, 32, requires_grad=True)
    torch._dynamo.reset()
    torch_ember.reset()
    compiled = torch.compile(block, backend="ember", options={"rest": "eager"})
    out, ref = _output(compiled(x)), _output(block(x))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    params = [x, *block.parameters()]
    got = torch.autograd.grad(out.pow(2).sum(), params, allow_unused=True)
    want = torch.autograd.grad(ref.pow(2).sum(), params, allow_unused=True)
    for g, w in zip(got, want):
        if w is None:
            assert g is None or not g.any()
            continue
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    report = torch_ember.report()
    assert kinds <= {r.kind for r in report.regions}, str(report)
    assert sum(r.lookups for r in report.regions) > 0


def _inference_matches_eager(block):
    x = torch.randn(2, 8, 32)
    torch._dynamo.reset()
    torch_ember.reset()
    with torch.no_grad():
        torch.testing.assert_close(_output(torch.compile(block, backend="ember")(x)), _output(block(x)),
                                   rtol=1e-5, atol=1e-5)


def test_mixtral_grouped_mm_unsort_stays_on_the_host_with_its_reason():
    _inference_matches_eager(_block("grouped_mm"))
    reasons = {h.op: h.reason for h in torch_ember.report().host_ops}
    assert "without accumulate" in reasons.get("aten.index_put.default", ""), reasons


def test_mixtral_expert_loop_runs_correctly_across_its_graph_breaks():
    _inference_matches_eager(_block(None))
