"""Per-region knobs (``options={"region_knobs": {pattern: {knob: value}}}``): each region compiles with its own
vector width, unroll, buffer bytes and tile; a global value stays every other region's."""
import dataclasses
import json

import pytest
import torch
import torch.nn as nn
import torch_ember
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_ember.autotune import Objective
from torch_ember.ir.__main__ import WORKLOADS
from torch_ember.ir.dae import format_dae
from torch_ember.options import KNOB_NAMES, EmberOptions, Knobs
from torch_ember.programs import ProgramCache
from torch_ember.region_spec import RegionKind

# the CLI's workloads, each on a table of its own (so a pattern names exactly one of them)
REGIONS = [(dataclasses.replace(spec, table=f"t{k}"), tuple(sorted(dtypes.items())))
           for k, (spec, dtypes, _) in enumerate(WORKLOADS.values()) if spec.kind is not RegionKind.BATCHED]

_KNOB_VALUES = {"vector_width": st.sampled_from([None, 1, 2, 4, 16]), "unroll": st.sampled_from([1, 2, 8]),
                "buffer_bytes": st.sampled_from([None, 16, 64, 256]), "tile": st.sampled_from([None, 1, 4])}
_knobs = st.fixed_dictionaries({}, optional=_KNOB_VALUES)


def _program(options: EmberOptions, spec, dtypes) -> str:
    return format_dae(ProgramCache(options).program(spec, dtypes))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, len(REGIONS) - 1), _knobs, _knobs, st.integers(0, 3), st.booleans())
def test_a_regions_knobs_change_only_its_own_program(chosen, own, global_knobs, level, by_table):
    base = EmberOptions(device="server", opt_level=level, **global_knobs)
    spec, dtypes = REGIONS[chosen]
    pattern = spec.table if by_table else spec.key
    tuned = dataclasses.replace(base, region_knobs={pattern: own})
    for k, (other, other_dtypes) in enumerate(REGIONS):
        if k != chosen:
            assert _program(tuned, other, other_dtypes) == _program(base, other, other_dtypes), other.key
    # the chosen region compiles exactly as it would with its knobs as the global ones
    assert tuned.knobs_for(spec) == dataclasses.replace(base.knobs, **own)
    as_global = dataclasses.replace(base, **own)
    assert _program(tuned, spec, dtypes) == _program(as_global, spec, dtypes)


def test_later_patterns_override_earlier_ones_and_a_batch_takes_its_parts_knobs():
    spec = REGIONS[0][0]
    options = EmberOptions(unroll=4, region_knobs={"*": {"unroll": 2, "tile": 8}, spec.key: {"unroll": 16},
                                                   "no such region": {"tile": 1}})
    assert options.knobs_for(spec) == Knobs(unroll=16, tile=8)
    assert options.knobs_for(REGIONS[1][0]) == Knobs(unroll=2, tile=8)
    kg = WORKLOADS["kg"][0]
    assert EmberOptions(region_knobs={"entity": {"unroll": 3}}).knobs_for(kg) == Knobs(unroll=3)


@pytest.mark.parametrize("bad, message", [
    ({"x": {"unrol": 2}}, "option 'region_knobs' for 'x': unknown knob 'unrol'; the knobs are " + ", ".join(KNOB_NAMES)),
    ({"x": {"unroll": 0}}, "option 'region_knobs' for 'x': 'unroll' must be a positive int, got 0"),
    ({"": {"unroll": 2}}, "a region pattern must be a non-empty str"),
])
def test_bad_region_knobs_are_refused_when_the_options_are_read(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EmberOptions.from_dict({"region_knobs": bad})


@pytest.mark.parametrize("bad, message", [
    ({"x": {"vector_width": True}}, "'vector_width' must be a positive int or None, got True"),
    ({"x": {"unroll": "4"}}, "option 'region_knobs' for 'x': 'unroll' must be a positive int, got '4'"),
    ({"x": {"unroll": 3.5}}, "'unroll' must be a positive int, got 3.5"),
    ({"x": 4}, "expected a mapping of knobs"),
    ({3: {"unroll": 2}}, "a region pattern must be a non-empty str"),
    (["*:t0"], "must map region patterns to knob settings"),
])
def test_region_knobs_of_the_wrong_type_are_a_type_error(bad, message):
    """As PyTorch answers an argument of the wrong type (they were ValueErrors)."""
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EmberOptions.from_dict({"region_knobs": bad})
    with pytest.raises(TypeError, match="option 'unroll' must be a positive int, got '4'"):
        EmberOptions.from_dict({"unroll": "4"})


def test_region_knobs_travel_as_json_with_the_region_call():
    options = EmberOptions(region_knobs={"*:tables.1.weight": {"unroll": 2, "buffer_bytes": None}})
    again = EmberOptions.from_json_dict(json.loads(json.dumps(options.to_dict())))
    assert again == options and hash(again) == hash(options)


class Bags(nn.Module):
    def __init__(self):
        super().__init__()
        self.tables = nn.ModuleList(nn.EmbeddingBag(rows, 8, mode=mode) for rows, mode in
                                    ((50, "sum"), (30, "mean"), (40, "max")))

    def forward(self, inputs):
        return torch.cat([t(i, o) for t, (i, o) in zip(self.tables, inputs)], dim=1)


@pytest.mark.slow
def test_a_table_tuned_apart_runs_alone_and_every_value_and_gradient_equals_eager():
    torch.manual_seed(0)
    model, g = Bags(), torch.Generator().manual_seed(1)
    inputs = [(torch.randint(0, t.num_embeddings, (12,), generator=g), torch.tensor([0, 3, 3, 7])) for t in model.tables]
    options = {"device": "server", "region_knobs": {"tables.1.weight": {"vector_width": 2, "unroll": 1}}}
    typo = {**options, "region_knobs": {**options["region_knobs"], "tables.1": {"unroll": 2}}}
    explanation = torch_ember.explain(model, inputs, options=typo, verbose=False)
    assert explanation.unmatched_patterns == ("tables.1",) and "pattern 'tables.1' matches no region" in str(explanation)
    explanation = torch_ember.explain(model, inputs, options=options, verbose=False)
    assert explanation.unmatched_patterns == ()
    forward = {r.key: r.parts for r in explanation.regions if r.graph == "forward"}
    assert forward == {"batched_2_regions:tables.{0,2}.weight": ("embedding_bag_sum:tables.0.weight",
                                                                 "embedding_bag_max:tables.2.weight"),
                       "embedding_bag_mean:tables.1.weight": ()}
    assert "embedding_bag_backward_mean:tables.1.weight" in explanation.region_keys
    assert "parts: embedding_bag_sum:tables.0.weight, embedding_bag_max:tables.2.weight" in str(explanation)

    expected = model(inputs)
    expected.square().sum().backward()
    grads = [t.weight.grad.clone() for t in model.tables]
    model.zero_grad()
    torch._dynamo.reset()
    out = torch.compile(model, backend="ember", options=options)(inputs)
    out.square().sum().backward()
    torch.testing.assert_close(out, expected)
    for t, grad in zip(model.tables, grads):
        torch.testing.assert_close(t.weight.grad, grad)



def test_numpy_integers_are_knob_values_and_stay_json():
    """Tuners hand out numpy integers (ConfigSpace's ordinals do): taken as ints, so the options still travel."""
    import numpy as np
    options = EmberOptions(unroll=np.int64(4), opt_level=np.int64(2), region_knobs={"*": {"vector_width": np.int32(8)}})
    assert options.unroll == 4 and type(options.unroll) is int and type(options.opt_level) is int
    assert json.loads(json.dumps(options.to_dict()))["region_knobs"] == {"*": {"vector_width": 8}}


def test_numpy_numbers_in_a_device_and_the_timing_options_stay_json():
    """ember-hardware tunes the device: SMAC's integers reached the DeviceConfig as numpy ints, and lowering then
    failed deep in the fx passes with "Object of type int64 is not JSON serializable"."""
    import numpy as np

    import dae_emulator
    device = dataclasses.replace(dae_emulator.preset("server"), cores=np.int64(4), queue_capacity=np.int64(32))
    options = EmberOptions(device=device, timing_error=np.float32(0.05), timing_confidence=np.float64(0.9))
    again = EmberOptions.from_json_dict(json.loads(json.dumps(options.to_dict())))
    assert again == options and type(options.timing_error) is float and again.device_config.cores == 4
    with pytest.raises(ValueError, match=r"'timing_error' must be a number between 0 and 1 \(exclusive\), got True"):
        EmberOptions(timing_error=True)


class ScatterIntoZeros(nn.Module):
    """Regions over data that is no parameter (a scatter into fresh zeros; the gradient of a gather through
    a ReLU), which are named after the graph's nodes."""

    def __init__(self):
        super().__init__()
        self.emb, self.lin = nn.Embedding(20, 8), nn.Linear(8, 8)

    def forward(self, idx, dst):
        x = torch.relu(self.lin(self.emb(idx)))
        pooled = torch.zeros(6, 8).index_add(0, dst, x)
        return pooled[dst] * x


def test_explain_and_autotune_name_the_regions_a_default_compile_lowers():
    """explain and autotune ran the host part eagerly on an undecomposed graph, while a default compile
    (rest='inductor') lowers Inductor's decomposition of it: regions over data that is no parameter had other
    names there ('forward.zeros' against 'forward.full'), so knobs tuned for them were silently dropped."""
    torch.manual_seed(0)
    model = ScatterIntoZeros()
    inputs = (torch.randint(0, 20, (10,)), torch.randint(0, 6, (10,)))
    keys = set(torch_ember.explain(model, *inputs, verbose=False).region_keys)
    assert any(".zeros" in k or ".full" in k for k in keys)          # a region over data that is no parameter
    tuned_keys = set(Objective(model, inputs, {"device": "server"}, per_region=True).regions)
    torch._dynamo.reset()
    torch_ember.reset()
    out = torch.compile(model, backend="ember", options={"device": "server"})(*inputs)
    out.sum().backward()
    compiled = {r.name for r in torch_ember.report().regions}
    assert keys == tuned_keys and compiled == keys
    region_knobs = {k: {"unroll": 2} for k in keys}
    assert torch_ember.explain(model, *inputs, options={"region_knobs": region_knobs},
                               verbose=False).unmatched_patterns == ()
