"""``aten._embedding_bag`` (and ``_embedding_bag_forward_only``): sum, mean and max bags."""
from __future__ import annotations

import torch

from ...region_spec import BagMode, RegionSpec
from ..checks import require
from .base import AdapterDefaults, check_index_dtype, aten, check_indices

_FAST_SUM_DTYPES = (torch.float32, torch.float16, torch.bfloat16)   # the CPU kernel's fast path skips offset2bag


def check_offsets(spec: RegionSpec, offsets: torch.Tensor, num_indices: int) -> None:
    check_index_dtype(offsets, f"offsets for table {spec.table}")
    if offsets.dim() != 1:
        raise ValueError(f"offsets for table {spec.table} must be 1-D, got shape {tuple(offsets.shape)}")
    if offsets.numel() == 0:
        return

    def not_at_zero():
        raise RuntimeError(f"offsets for table {spec.table} must start at 0, got offsets[0] = {int(offsets[0])}")

    def decreasing():
        k = int(torch.nonzero(offsets[1:] < offsets[:-1])[0])
        raise RuntimeError(f"offsets for table {spec.table} decrease: offsets[{k}] = {int(offsets[k])} > "
                           f"offsets[{k + 1}] = {int(offsets[k + 1])}")

    def past_the_end():
        raise RuntimeError(f"offsets for table {spec.table} point past the {num_indices} indices: "
                           f"offsets[-1] = {int(offsets[-1])}")
    require(offsets[0] != 0, not_at_zero)
    require((offsets[1:] < offsets[:-1]).any(), decreasing)
    require(offsets[-1] > num_indices, past_the_end)


def with_last_offset(offsets: torch.Tensor, num_indices: int, included: bool) -> torch.Tensor:
    if included:
        return offsets
    return torch.cat([offsets, offsets.new_tensor([num_indices])])


def bag_of_each_index(indices: torch.Tensor, offsets: torch.Tensor, bags: int, index_t: torch.dtype) -> torch.Tensor:
    """Each index's bag, from the first ``bags`` offsets."""
    starts = offsets[:bags].to(index_t)
    positions = torch.arange(indices.numel(), dtype=index_t, device=indices.device)
    return (torch.searchsorted(starts, positions, right=True) - 1).to(index_t)


def _cpu_bag_aux(spec: RegionSpec, args, outputs) -> list[torch.Tensor]:
    """offset2bag, bag_size, max_indices as the CPU kernel gives them: int64 when indices and offsets differ
    in dtype (the kernel promotes both); no offset2bag only on its fast sum path (float32, float16 or
    bfloat16 tables, no padding index); zeros for a sum's bag sizes, the bag sizes again as a mean's
    max_indices."""
    weight, indices, offsets = args[:3]
    index_t = torch.promote_types(indices.dtype, offsets.dtype)
    bags = outputs["out"].shape[0]
    if spec.mode is BagMode.SUM and spec.padding_idx < 0 and weight.dtype in _FAST_SUM_DTYPES:
        offset2bag = indices.new_empty(0, dtype=index_t)
    else:
        offset2bag = bag_of_each_index(indices, offsets, bags, index_t)
    if spec.mode is BagMode.SUM:
        return [offset2bag, offsets.new_zeros(bags, dtype=index_t), offsets.new_zeros(bags, dtype=index_t)]
    bag_size = outputs["bag_size"].to(index_t)
    max_indices = outputs["max_indices"].to(index_t) if spec.mode is BagMode.MAX else bag_size.clone()
    return [offset2bag, bag_size, max_indices]


def _cuda_bag_aux(spec: RegionSpec, args, outputs) -> list[torch.Tensor]:
    """offset2bag, bag_size, max_indices as the CUDA kernel gives them: offset2bag for every index; one bag
    size (non-padding lookups) per offset, so with ``include_last_offset`` one more than there are bags (the
    kernel leaves that one unwritten; here it is 0); max_indices only for max bags, -1 where a bag looked
    nothing up, else empty."""
    _weight, indices, offsets = args[:3]
    index_t = torch.promote_types(indices.dtype, offsets.dtype)
    bags = outputs["out"].shape[0]
    offset2bag = bag_of_each_index(indices, offsets, bags, index_t)
    bag_size = offsets.new_zeros(offsets.numel(), dtype=index_t)
    if "bag_size" in outputs:
        bag_size[:bags] = outputs["bag_size"]
    else:
        counted = indices != spec.padding_idx if spec.padding_idx >= 0 else torch.ones_like(offset2bag)
        bag_size[:bags].index_add_(0, offset2bag, counted.to(index_t))
    if spec.mode is not BagMode.MAX:
        return [offset2bag, bag_size, offsets.new_empty(0, dtype=index_t)]
    empty = (bag_size[:bags] == 0).unsqueeze(1)
    return [offset2bag, bag_size, torch.where(empty, -1, outputs["max_indices"].to(index_t))]


def _checked_weights(spec: RegionSpec, weight: torch.Tensor, indices: torch.Tensor,
                     per_sample_weights: torch.Tensor) -> torch.Tensor:
    """``per_sample_weights`` as eager checks them: the table's dtype, one weight per index."""
    if per_sample_weights.dtype != weight.dtype:
        raise RuntimeError(f"per_sample_weights for table {spec.table} are {per_sample_weights.dtype} but the "
                           f"table is {weight.dtype}: PyTorch needs them to have the same type")
    if per_sample_weights.shape != indices.shape:
        raise ValueError(f"per_sample_weights for table {spec.table} have shape {tuple(per_sample_weights.shape)}, "
                         f"the indices {tuple(indices.shape)}: there must be one weight per index")
    return per_sample_weights


def _bag_aten_args(spec: RegionSpec, args):
    weight, indices, offsets = args[:3]
    psw = args[3] if spec.has_weights else None
    return (weight, indices, offsets, False, int(spec.mode), False, psw, spec.include_last_offset, spec.padding_idx)


class EmbeddingBagAdapter(AdapterDefaults):
    @staticmethod
    def program_inputs(spec, args):
        weight, indices, offsets = args[:3]
        check_offsets(spec, offsets, indices.numel())
        check_indices(spec, indices, weight.shape[0], weight.shape[1])
        inputs = {"table": weight, "indices": indices, "offsets": with_last_offset(offsets, indices.numel(),
                                                                                 spec.include_last_offset)}
        if spec.has_weights:
            inputs["weights"] = _checked_weights(spec, weight, indices, args[3])
        return inputs

    @staticmethod
    def finish(spec, args, outputs):
        """Add the auxiliary outputs the backward op reads, in the format PyTorch's kernel for the tensors'
        device gives them (the graph was traced with those shapes, and a backward left to ATen reads them)."""
        aux = _cuda_bag_aux if args[0].is_cuda else _cpu_bag_aux
        return [outputs["out"], *aux(spec, args, outputs)]
    @staticmethod
    def reference(spec, args):
        return list(aten._embedding_bag(*_bag_aten_args(spec, args)))

