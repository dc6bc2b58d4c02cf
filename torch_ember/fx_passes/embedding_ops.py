"""Registry entries for embedding lookups and their backward ops."""
from __future__ import annotations

import torch

from ..region_spec import BagMode, RegionKind, RegionSpec
from .registry_base import Lowering, tensor_checks
from .registry_base import meta as _meta

aten = torch.ops.aten


def _common_checks(kw: dict, table_key: str, *, table_2d: bool = True) -> str | None:
    table = _meta(kw[table_key])
    if table_2d and table is not None and table.dim() != 2:
        return f"the table has {table.dim()} dimensions; only 2-D tables are lowered"
    reason = tensor_checks(table)
    if reason is not None:
        return reason
    if not isinstance(kw.get("padding_idx", -1), (int, type(None))):
        return "padding_idx is symbolic (it changes between calls); a region needs it fixed"
    if kw.get("scale_grad_by_freq"):
        return "scale_grad_by_freq needs per-batch index counts; not lowered"
    if kw.get("sparse"):
        return "sparse gradients are not lowered"
    return None


def _bag_check(kw: dict) -> str | None:
    if kw["per_sample_weights"] is not None and kw["mode"] != BagMode.SUM:
        return "per_sample_weights with a mode other than sum (PyTorch rejects it)"
    indices = _meta(kw["indices"])
    if indices is not None and indices.dim() != 1:
        return "indices must arrive 1-D at the ATen level"
    return _common_checks(kw, "weight")


def _bag_spec(kw: dict, table: str) -> RegionSpec:
    padding_idx = kw.get("padding_idx")     # embedding_bag.default has none
    return RegionSpec(RegionKind.EMBEDDING_BAG, table, BagMode(kw["mode"]), padding_idx if padding_idx is not None
                      else -1, kw["include_last_offset"], kw["per_sample_weights"] is not None)


def _bag_args(kw: dict) -> list:
    extra = [kw["per_sample_weights"]] if kw["per_sample_weights"] is not None else []
    return [kw["weight"], kw["indices"], kw["offsets"]] + extra


def _static_int(value) -> str | None:
    return None if isinstance(value, int) else "the table's row count is symbolic; not lowered"


def _grad_checks(kw: dict) -> str | None:
    if "grad_output" in kw:  # embedding's gradient: one row per index, indices of any shape
        return _static_int(kw["num_weights"]) or _common_checks(kw, "grad_output", table_2d=False)
    return _static_int(kw["num_weights"]) or _common_checks(kw, "grad")


def _bag_backward_spec(kw: dict, table: str) -> RegionSpec:
    mode = BagMode(kw["mode"])
    kind = RegionKind.EMBEDDING_BAG_MAX_BACKWARD if mode is BagMode.MAX else RegionKind.EMBEDDING_BAG_BACKWARD
    grad = _meta(kw["grad"])
    return RegionSpec(kind, table, mode, kw["padding_idx"], has_weights=kw["per_sample_weights"] is not None,
                      num_weights=kw["num_weights"], dim=int(grad.shape[-1]))


def _bag_backward_check(kw: dict) -> str | None:
    grad = _meta(kw["grad"])
    if grad is not None and not isinstance(grad.shape[-1], int):
        return "the embedding width is symbolic; not lowered"
    return _grad_checks(kw)


EMBEDDING_LOWERINGS: dict = {
    aten._embedding_bag.default: Lowering(_bag_check, _bag_spec, _bag_args, "weight"),
    aten._embedding_bag_forward_only.default: Lowering(_bag_check, _bag_spec, _bag_args, "weight"),
    # the public op, as torch.export keeps it (AOTAutograd decomposes it into ``_embedding_bag``)
    aten.embedding_bag.default: Lowering(_bag_check, _bag_spec, _bag_args, "weight"),
    aten.embedding_bag.padding_idx: Lowering(_bag_check, _bag_spec, _bag_args, "weight"),
    aten.embedding.default: Lowering(
        lambda kw: _common_checks(kw, "weight"),
        lambda kw, table: RegionSpec(RegionKind.EMBEDDING, table, padding_idx=kw["padding_idx"]),
        lambda kw: [kw["weight"], kw["indices"]], "weight"),
    aten.embedding_dense_backward.default: Lowering(
        _grad_checks,
        lambda kw, table: RegionSpec(RegionKind.EMBEDDING_BACKWARD, table, padding_idx=kw["padding_idx"],
                                     num_weights=kw["num_weights"]),
        lambda kw: [kw["grad_output"], kw["indices"]], "grad_output"),
    aten._embedding_bag_backward.default: Lowering(
        _bag_backward_check, _bag_backward_spec,
        lambda kw: [kw["grad"], kw["indices"], kw["offsets"], kw["offset2bag"], kw["bag_size"],
                    kw["maximum_indices"]] + ([kw["per_sample_weights"]] if kw["per_sample_weights"] is not None
                                               else []), "grad"),
    aten._embedding_bag_per_sample_weights_backward.default: Lowering(
        lambda kw: None if kw["mode"] == BagMode.SUM else "per-sample-weight gradients exist only for mode sum",
        lambda kw, table: RegionSpec(RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD, table, BagMode(kw["mode"]),
                                     kw["padding_idx"]),
        lambda kw: [kw["grad"], kw["weight"], kw["indices"], kw["offsets"], kw["offset2bag"]], "weight"),
}
