"""The backend as a user meets it: entry point, options, the report, ops left on the host, recompiles."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch_ember
from torch_ember.dynamo_backend import ember_backend

pytestmark = pytest.mark.slow


def test_backend_is_found_in_a_process_that_never_imports_torch_ember():
    code = (
        "import sys, torch\n"
        "assert 'ember' in torch._dynamo.list_backends()\n"
        "emb = torch.nn.EmbeddingBag(10, 3, mode='sum')\n"
        "f = torch.compile(emb, backend='ember', options={'rest': 'eager'})\n"
        "i, o = torch.tensor([1, 2, 3]), torch.tensor([0, 1])\n"
        "torch.testing.assert_close(f(i, o), emb(i, o))\n"
        "assert sys.modules['torch_ember'].report().regions[0].launches == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_unknown_option_lists_the_known_ones():
    emb = nn.Embedding(4, 2)
    with pytest.raises(Exception, match=r"unknown ember option\(s\) \['devcie'\]; known options: \['device'"):
        torch.compile(emb, backend="ember", options={"devcie": "server"})(torch.tensor([1]))


@pytest.mark.parametrize("options, message", [
    ({"rest": "tvm"}, "'rest' must be 'inductor' or 'eager'"),
    ({"device": "laptop"}, "unknown DAE device preset 'laptop'; known presets: server"),
    ({"opt_level": 7}, "'opt_level' must be 0, 1, 2 or 3"),
    ({"tile": 0}, "'tile' must be a positive int or None, got 0"),
    ({"timing": "fast"}, "'timing' must be 'sampled' or 'full', got 'fast'"),
    ({"timing_error": 0}, "'timing_error' must be a number between 0 and 1"),
    ({"timing_confidence": 1.5}, "'timing_confidence' must be a number between 0 and 1"),
    ({"verify": "yes"}, "'verify' must be True or False, got 'yes'"),        # was taken as on
    ({"strict": "False"}, "'strict' must be True or False, got 'False'"),    # was taken as on
])
def test_bad_option_values_raise_value_error(options, message):
    with pytest.raises(ValueError, match=message):
        ember_backend(None, [], options)


def test_report_records_regions_and_reset_clears_them():
    torch_ember.reset()
    emb = nn.EmbeddingBag(20, 4, mode="mean")
    f = torch.compile(emb, backend="ember", options={"rest": "eager"})
    i, o = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2])
    f(i, o).sum().backward()
    report = torch_ember.report()
    kinds = {r.kind: r for r in report.regions}
    assert set(kinds) == {"embedding_bag", "embedding_bag_backward"}
    forward = kinds["embedding_bag"]
    assert forward.launches == 1 and forward.lookups == 5 and forward.bytes_read >= 5 * 4 * 4
    assert "emb" in forward.name or "weight" in forward.name
    text = str(report)
    assert "bag_mean" in text and "lookups" in text and "total" in text
    assert "embedding_bag_mean" in report.wide()
    torch_ember.reset()
    assert torch_ember.report().regions == ()



def test_a_session_block_keeps_its_records_apart_from_the_process_report():
    torch._dynamo.reset()    # lowered anew: an earlier file's Embedding graphs may have used up the recompile limit
    torch_ember.reset()
    emb = nn.Embedding(20, 4)
    f = torch.compile(emb, backend="ember", options={"rest": "eager"})
    f(torch.tensor([1, 2]))                       # compiled and launched outside: the process's session
    with torch_ember.Session() as inner:
        f(torch.tensor([3, 4, 5]))
        assert [(r.launches, r.lookups) for r in torch_ember.report().regions] == [(1, 3)]
        with torch_ember.Session():
            assert torch_ember.report().regions == ()
        torch_ember.reset()                       # clears the block's session only
        assert torch_ember.report().regions == ()
        f(torch.tensor([6]))
    assert [(r.launches, r.lookups) for r in inner.stats.report().regions] == [(1, 1)]
    assert [(r.launches, r.lookups) for r in torch_ember.report().regions] == [(1, 2)]
    assert len(inner.launches.snapshot()) == 1

def test_unlowered_case_stays_on_the_host_with_its_reason_and_is_correct():
    torch._dynamo.reset()    # lowered anew: an earlier file's Embedding graphs may have used up the recompile limit
    torch_ember.reset()
    emb = nn.Embedding(10, 3, scale_grad_by_freq=True)
    ref = nn.Embedding(10, 3, scale_grad_by_freq=True)
    ref.load_state_dict(emb.state_dict())
    f = torch.compile(emb, backend="ember", options={"rest": "eager"})
    i = torch.tensor([1, 1, 2, 7])
    f(i).pow(2).sum().backward()
    ref(i).pow(2).sum().backward()
    torch.testing.assert_close(emb.weight.grad, ref.weight.grad)
    reasons = [h.reason for h in torch_ember.report().host_ops]
    assert any("scale_grad_by_freq" in r for r in reasons)
    assert "scale_grad_by_freq" in str(torch_ember.report())


def test_strict_mode_raises_instead_of_leaving_a_lookup_on_the_host():
    torch._dynamo.reset()    # earlier files' backward graphs may have used up the recompile limit
    emb = nn.Embedding(10, 3, scale_grad_by_freq=True)
    f = torch.compile(emb, backend="ember", options={"rest": "eager", "strict": True})
    with pytest.raises(Exception, match="strict mode: .*scale_grad_by_freq"):
        f(torch.tensor([1, 2])).sum().backward()


def test_verify_option_compares_each_region_with_eager():
    emb = nn.EmbeddingBag(10, 3, mode="max")
    f = torch.compile(emb, backend="ember", options={"rest": "eager", "verify": True})
    i, o = torch.tensor([1, 2, 3, 9]), torch.tensor([0, 0, 3])
    f(i, o).sum().backward()  # raises if any region differs from eager


def test_new_batch_size_or_index_count_does_not_recompile_after_the_dynamic_recompile():
    torch._dynamo.reset()
    compiles = []

    def counting_backend(gm, example_inputs):
        compiles.append(gm)
        return ember_backend(gm, example_inputs, {"rest": "eager"})

    torch.manual_seed(0)
    emb = nn.EmbeddingBag(50, 4, mode="sum")
    f = torch.compile(emb, backend=counting_backend)
    for batch, pooling in [(4, 3), (8, 2), (16, 5), (3, 7), (32, 1), (5, 4)]:
        lengths = torch.randint(0, 2 * pooling, (batch,))
        i = torch.randint(0, 50, (int(lengths.sum()),))
        o = torch.cumsum(lengths, 0) - lengths
        torch.testing.assert_close(f(i, o), emb(i, o))
    assert len(compiles) == 2, f"compiled {len(compiles)} times"
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2


def test_rest_of_graph_through_inductor_matches_eager():
    torch.manual_seed(0)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.EmbeddingBag(30, 8, mode="sum")
            self.lin = nn.Linear(8, 1)

        def forward(self, i, o, w):
            return torch.relu(self.lin(self.emb(i, o, per_sample_weights=w))).sum()

    model = Model()
    f = torch.compile(model, backend="ember")
    i, o, w = torch.randint(0, 30, (12,)), torch.tensor([0, 5, 5, 9]), torch.rand(12)
    torch.testing.assert_close(f(i, o, w), model(i, o, w))
    grads = torch.autograd.grad(f(i, o, w), list(model.parameters()))
    want = torch.autograd.grad(model(i, o, w), list(model.parameters()))
    for g, e in zip(grads, want):
        torch.testing.assert_close(g, e)


def test_embedding_bags_of_one_graph_run_as_one_batched_region():
    torch_ember.reset()
    torch.manual_seed(0)
    bags = nn.ModuleList([nn.EmbeddingBag(20, 4, mode="sum"), nn.EmbeddingBag(30, 4, mode="max"),
                          nn.EmbeddingBag(10, 4, mode="mean", padding_idx=0)])

    def pooled(i, o):
        return torch.cat([bag(i % bag.num_embeddings, o) for bag in bags], dim=1)

    f = torch.compile(pooled, backend="ember", options={"rest": "eager"})
    i, o = torch.randint(0, 30, (11,)), torch.tensor([0, 3, 3, 8])
    got, want = f(i, o), pooled(i, o)
    torch.testing.assert_close(got, want)
    grads = torch.autograd.grad(got.pow(2).sum(), list(bags.parameters()))
    expected = torch.autograd.grad(want.pow(2).sum(), list(bags.parameters()))
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)
    forward = [r for r in torch_ember.report().regions if r.kind == "batched"]
    assert len(forward) == 1 and forward[0].launches == 1 and forward[0].lookups == 3 * 11


def test_region_calls_carry_the_build_of_the_code_behind_them():
    """Inductor's graph cache keys on the graph's text, not on the code of the custom ops in it: every region
    call carries a digest of ember's sources, so a graph compiled by other ember code is never replayed."""
    import json

    from torch_ember.options import EmberOptions, build_id
    from torch_ember.region_call import RegionCall
    from torch_ember.region_spec import RegionKind, RegionSpec
    assert len(build_id()) == 16 and build_id() == build_id()
    call = RegionCall(RegionSpec(RegionKind.EMBEDDING, "t"), EmberOptions())
    assert json.loads(call.to_json())["build"] == build_id()
    assert RegionCall.from_json(call.to_json()) == call
