"""Run one region with the Triton kernels instead of the emulated DAE device.

The region's adapter does everything around the kernels exactly as for the DAE device: it specializes the
region to the tensors it got, validates them (raising what eager PyTorch raises), lays them out as the
DAE program's named inputs, and shapes and combines the outputs (``finish``). The kernels take those
named inputs and return the DAE program's named outputs, so the two back ends are interchangeable.
"""
from __future__ import annotations

import torch

from ..region_spec import RegionKind, RegionSpec
from ..runtime.adapters import ADAPTERS, apply_epilogue
from ..runtime.checks import deferred_checks
from ..runtime.launch import Layout
from . import elements, embedding_bag, embedding_bag_backward, rows, segment

KERNELS = {
    RegionKind.EMBEDDING_BAG: embedding_bag.forward,
    RegionKind.EMBEDDING: rows.gather_rows,
    RegionKind.EMBEDDING_BACKWARD: rows.embedding_backward,
    RegionKind.EMBEDDING_BAG_BACKWARD: embedding_bag_backward.backward,
    RegionKind.EMBEDDING_BAG_MAX_BACKWARD: embedding_bag_backward.backward,
    RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD: embedding_bag_backward.weights_backward,
    RegionKind.GATHER_ROWS: rows.gather_rows,
    RegionKind.SCATTER_ROWS: rows.scatter_rows,
    RegionKind.GATHER_SCATTER: rows.gather_scatter,
    RegionKind.GATHER_ELEMENTS: elements.gather_elements,
    RegionKind.SCATTER_ELEMENTS: elements.scatter_elements,
    RegionKind.SEGMENT_REDUCE: segment.segment_reduce,
    RegionKind.SEGMENT_REDUCE_BACKWARD: rows.segment_reduce_backward,
    RegionKind.SEGMENT_TIES: rows.segment_ties,
    RegionKind.SEGMENT_PRODUCTS: rows.segment_products,
}


def batched(spec: RegionSpec, inputs: dict[str, torch.Tensor], sizes: dict) -> dict[str, torch.Tensor]:
    """A batched region's embedding bags in one ``embedding_bags`` launch (tables sharing a dtype), else
    each part with its own kernel; outputs under each part's prefix, as the batched adapter expects."""
    prefix_of = RegionSpec.prefix
    inputs = {**inputs, **{alias: inputs[of] for alias, of in spec.shared}}    # one tensor, passed once
    parts = [{n[len(prefix_of(k)):]: t for n, t in inputs.items() if n.startswith(prefix_of(k))}
             for k in range(len(spec.parts))]
    if {p.kind for p in spec.parts} == {RegionKind.EMBEDDING_BAG} and len({i["table"].dtype for i in parts}) == 1:
        bags = [embedding_bag.Bag(i["table"], i["indices"], i["offsets"], p.mode, i.get("weights"), p.padding_idx)
                for p, i in zip(spec.parts, parts)]
        results = embedding_bag.embedding_bags(bags)
    else:
        results = [KERNELS[p.kind](p, i, {}) for p, i in zip(spec.parts, parts)]
    return {prefix_of(k) + name: t for k, outputs in enumerate(results) for name, t in outputs.items()}


KERNELS[RegionKind.BATCHED] = batched


def run_region(spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]:
    """The region's results, as the ATen op it replaces returns them."""
    with deferred_checks(any(a.is_cuda for a in args)):   # one round trip to the GPU for all the checks
        layout = Layout.of(spec, args)
    spec, args = layout.spec, layout.args
    with torch.profiler.record_function(f"ember::triton::{spec.key}"):
        outputs = KERNELS[spec.kind](spec, layout.inputs, layout.sizes or {})
    return apply_epilogue(spec, ADAPTERS[spec.kind].finish(spec, args, outputs))
