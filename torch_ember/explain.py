"""``torch_ember.explain(model, *inputs)``: what goes to the DAE device, what stays on the host, and why.

It compiles the model with the ember backend (an ``ExportedProgram``, or ``compile_exported``'s result,
with ``compile_exported``, run once under ``torch.no_grad``), runs it once on the inputs (and, where the
output needs a gradient, the backward pass through ``torch.autograd.grad``, so no ``.grad`` of the model changes), and
collects what the fx passes decided for every graph. Its launches go to a session of its own, and the
model's buffers are put back afterwards: inspecting a model changes neither it nor ``report()``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .dynamo_backend import ember_backend
from .exported import ExportedRegions, compile_exported
from .fx_passes import LoweringState
from .fx_passes.registry_base import meta
from .options import EmberOptions, pattern_matches
from .session import Session


@dataclass(frozen=True)
class LoweredRegion:
    graph: str                    # forward, backward or inference
    name: str
    kind: str
    op: str                       # the ATen op it replaces
    table: str
    input_shapes: tuple[str, ...]
    fused: tuple[str, ...]
    key: str = ""                 # ``name:table``, as reports name it
    parts: tuple[str, ...] = ()   # a batched region's parts, by key (``region_knobs`` patterns match these)


@dataclass(frozen=True)
class HostLookup:
    graph: str
    op: str
    reason: str


@dataclass(frozen=True)
class Explanation:
    regions: tuple[LoweredRegion, ...]
    host_ops: tuple[HostLookup, ...]
    unmatched_patterns: tuple[str, ...] = ()    # ``region_knobs`` patterns that name no region (a typo?)

    @property
    def region_keys(self) -> tuple[str, ...]:
        """Every region that ``region_knobs`` can give knobs of its own (a batched region's parts, not the
        batch), by ``op:table`` key, each once, in the order lowered."""
        return tuple(dict.fromkeys(k for r in self.regions for k in (r.parts or (r.key,))))

    def __str__(self) -> str:
        lines = [f"{len(self.regions)} region(s) on the DAE device:"]
        for r in self.regions:
            fused = f"; fused: {' -> '.join(r.fused)}" if r.fused else ""
            parts = f"; parts: {', '.join(r.parts)}" if r.parts else ""
            lines.append(f"  [{r.graph}] {r.name} ({r.kind}, from {r.op}) table {r.table}; "
                         f"inputs {', '.join(r.input_shapes)}{fused}{parts}")
        lines += [f"region_knobs pattern {p!r} matches no region (their names are the op:table keys above, or a "
                  f"table alone)" for p in self.unmatched_patterns]
        if self.host_ops:
            lines.append(f"{len(self.host_ops)} lookup-like op(s) left on the host, run by PyTorch as eager runs them:")
            lines += [f"  [{h.graph}] {h.op}: {h.reason}" for h in self.host_ops]
        else:
            lines.append("no lookup-like op left on the host")
        return "\n".join(lines)


def _shape(node) -> str:
    value = meta(node)
    if value is None:
        return "?"
    return f"{str(value.dtype).removeprefix('torch.')}[{', '.join(str(s) for s in value.shape)}]"


def explain(model, *inputs, options: dict | None = None, verbose: bool = True) -> Explanation:
    """What ``options`` lower of ``model`` on ``inputs``: it runs the model forward and backward once, in a
    session of its own (``report()`` does not count these launches), and puts the model's buffers back as
    they were (a BatchNorm's running statistics)."""
    buffers = [(b, b.detach().clone()) for b in getattr(model, "buffers", lambda: ())()]
    try:
        with Session():
            return _explain(model, *inputs, options=options, verbose=verbose)
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def _explain(model, *inputs, options: dict | None = None, verbose: bool = True) -> Explanation:
    regions, host = [], []
    patterns = [pattern for pattern, _ in EmberOptions.from_dict(options).region_knobs]

    def observe(state: LoweringState) -> None:
        kind = state.graph_kind.value
        for m in state.matches:
            regions.append(LoweredRegion(kind, m.spec.name, m.spec.kind.value, str(m.node.target),
                                         m.spec.table, tuple(_shape(a) for a in m.args), m.spec.fused,
                                         m.spec.key, tuple(p.key for p in m.spec.parts)))
        host.extend(HostLookup(kind, str(d.node.target), d.reason) for d in state.host)

    options = dict(options or {})
    if isinstance(model, ExportedRegions):       # compile_exported's result: its program, with its options
        model, options = model.program, {**model.options, **options}
    if isinstance(model, torch.export.ExportedProgram):
        with torch.no_grad():
            compile_exported(model, options, observer=observe)(*inputs)
        return _finish(regions, host, patterns, verbose)
    host.extend(_sparse_inputs(inputs))
    compiled = torch.compile(model, backend=lambda gm, ex: ember_backend(gm, ex, options, observer=observe,
                                                                         host_eager=True))
    out = compiled(*inputs)
    outputs = [t for t in (out if isinstance(out, (tuple, list)) else [out])
               if isinstance(t, torch.Tensor) and t.requires_grad]
    leaves = [t for t in list(getattr(model, "parameters", lambda: [])()) + list(inputs)
              if isinstance(t, torch.Tensor) and t.requires_grad]
    if outputs and leaves:
        torch.autograd.grad(sum(t.sum() for t in outputs), leaves, allow_unused=True)
    return _finish(regions, host, patterns, verbose)


def _sparse_inputs(inputs) -> list[HostLookup]:
    """Dynamo cannot trace sparse tensors: what reads one runs eagerly, and the backend never sees it."""
    flat = []
    for x in inputs:
        flat += list(x) if isinstance(x, (list, tuple)) else [x]
    return [HostLookup("input", f"input {k} ({str(x.layout).removeprefix('torch.')})",
                       "torch.compile cannot trace sparse tensors (Dynamo runs what reads them eagerly, "
                       "pytorch#171865); torch_ember.compile_exported(torch.export.export(model, inputs)) lowers "
                       "sparse @ dense products on them")
            for k, x in enumerate(flat) if isinstance(x, torch.Tensor) and x.layout != torch.strided]


def _finish(regions, host, patterns, verbose: bool) -> Explanation:
    explanation = Explanation(tuple(regions), tuple(host))
    unmatched = tuple(p for p in patterns if not any(pattern_matches(p, k) for k in explanation.region_keys))
    explanation = dataclasses.replace(explanation, unmatched_patterns=unmatched)
    if verbose:
        print(explanation)
    return explanation
