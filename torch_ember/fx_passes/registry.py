"""The registry of lowerable ATen ops. Each entry checks whether a node can run on the DAE device (giving
a reason when it cannot), builds its region spec, and lists the tensor arguments the region takes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.fx

from ..region_spec import BagMode, RegionKind, RegionSpec

aten = torch.ops.aten
_FLOATS = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


@dataclass(frozen=True)
class Lowering:
    check: Callable[[dict], str | None]                 # normalized kwargs -> reason it stays on the host
    spec: Callable[[dict, str], RegionSpec]             # normalized kwargs, table name -> spec
    tensor_args: Callable[[dict], list]                 # normalized kwargs -> tensor arguments, in order


def _meta(value):
    return value.meta.get("val") if isinstance(value, torch.fx.Node) else None


def _common_checks(kw: dict, table_key: str) -> str | None:
    table = _meta(kw[table_key])
    if table is None:
        return "the table's shape is unknown at compile time"
    if table.dim() != 2:
        return f"the table has {table.dim()} dimensions; only 2-D tables are lowered"
    if table.dtype not in _FLOATS:
        return f"table dtype {table.dtype} is not lowered (float32, float16, bfloat16, float64 are)"
    if table.device.type != "cpu":
        return f"tensors on {table.device.type}: the emulated device takes CPU tensors"
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
    return RegionSpec(RegionKind.EMBEDDING_BAG, table, BagMode(kw["mode"]), kw["padding_idx"] if
                      kw["padding_idx"] is not None else -1, kw["include_last_offset"],
                      kw["per_sample_weights"] is not None)


def _bag_args(kw: dict) -> list:
    extra = [kw["per_sample_weights"]] if kw["per_sample_weights"] is not None else []
    return [kw["weight"], kw["indices"], kw["offsets"]] + extra


def _static_int(value) -> str | None:
    return None if isinstance(value, int) else "the table's row count is symbolic; not lowered"


def _grad_checks(kw: dict) -> str | None:
    return _static_int(kw["num_weights"]) or _common_checks(kw, "grad" if "grad" in kw else "grad_output")


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


REGISTRY: dict[torch._ops.OpOverload, Lowering] = {
    aten._embedding_bag.default: Lowering(_bag_check, _bag_spec, _bag_args),
    aten._embedding_bag_forward_only.default: Lowering(_bag_check, _bag_spec, _bag_args),
    aten.embedding.default: Lowering(
        lambda kw: _common_checks(kw, "weight"),
        lambda kw, table: RegionSpec(RegionKind.EMBEDDING, table, padding_idx=kw["padding_idx"]),
        lambda kw: [kw["weight"], kw["indices"]]),
    aten.embedding_dense_backward.default: Lowering(
        _grad_checks,
        lambda kw, table: RegionSpec(RegionKind.EMBEDDING_BACKWARD, table, padding_idx=kw["padding_idx"],
                                     num_weights=kw["num_weights"]),
        lambda kw: [kw["grad_output"], kw["indices"]]),
    aten._embedding_bag_backward.default: Lowering(
        _bag_backward_check, _bag_backward_spec,
        lambda kw: [kw["grad"], kw["indices"], kw["offsets"], kw["offset2bag"], kw["bag_size"],
                    kw["maximum_indices"]] + ([kw["per_sample_weights"]] if kw["per_sample_weights"] is not None
                                               else [])),
    aten._embedding_bag_per_sample_weights_backward.default: Lowering(
        lambda kw: None if kw["mode"] == BagMode.SUM else "per-sample-weight gradients exist only for mode sum",
        lambda kw, table: RegionSpec(RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD, table, BagMode(kw["mode"]),
                                     kw["padding_idx"]),
        lambda kw: [kw["grad"], kw["weight"], kw["indices"], kw["offsets"], kw["offset2bag"]]),
}

LOOKUP_LIKE = {
    aten.embedding_backward.default, aten._embedding_bag_dense_backward.default,
    aten._embedding_bag_sparse_backward.default, aten.embedding_sparse_backward.default,
    aten.embedding_renorm_.default, aten.index_select.default, aten.gather.default, aten.index_add.default,
    aten.scatter_add.default, aten.index.Tensor, aten.index_put.default,
}
