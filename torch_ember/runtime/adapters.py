"""Between an ATen op's arguments and its region's DAE program, one adapter per region kind.

An adapter validates the user's tensors in the user's terms (raising the exception type eager PyTorch
raises, naming the table and the bad value), maps them onto the program's named inputs (host-side layout
only: flattening, appending the last offset), and shapes the program's outputs as the ATen op returns them.
``reference`` runs the ATen op itself, for the ``verify`` option and for tests.
"""
from __future__ import annotations

import torch

from ..region_spec import BagMode, RegionKind, RegionSpec
from .checks import require

aten = torch.ops.aten
_INDEX_DTYPES = (torch.int32, torch.int64)
_FAST_SUM_DTYPES = (torch.float32, torch.float16, torch.bfloat16)   # the CPU kernel's fast path skips offset2bag


def _check_index_dtype(t: torch.Tensor, what: str) -> None:
    if t.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"{what} must be an int32 or int64 tensor, but got {t.dtype}")


def _outside(index: torch.Tensor, size: int) -> torch.Tensor:
    flat = index.reshape(-1)
    return (flat < 0) | (flat >= size)


def out_of_range(index: torch.Tensor, size: int) -> torch.Tensor:
    """Whether any index lies outside ``[0, size)``: a bool tensor on the index's device."""
    return _outside(index, size).any()


def first_out_of_range(index: torch.Tensor, size: int) -> tuple[int, int]:
    """(position, value) of the first index outside ``[0, size)``, for the error once ``out_of_range``
    has found one."""
    position = int(torch.nonzero(_outside(index, size))[0])
    return position, int(index.reshape(-1)[position])


def check_indices(spec: RegionSpec, indices: torch.Tensor, rows: int, dim: int, error=RuntimeError) -> None:
    """Every index must name a row of the table; the first that does not is reported."""
    _check_index_dtype(indices, f"indices for table {spec.table}")

    def report():
        position, value = first_out_of_range(indices, rows)
        raise error(f"index {value} is out of range for table {spec.table} with {rows} rows "
                    f"(shape ({rows}, {dim})), at position {position} of the indices")
    require(out_of_range(indices, rows), report)


def check_offsets(spec: RegionSpec, offsets: torch.Tensor, num_indices: int) -> None:
    _check_index_dtype(offsets, f"offsets for table {spec.table}")
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


def apply_epilogue(spec: RegionSpec, outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """The region's fused elementwise epilogue applied to its main output, the way the graph applied it
    (for back ends that compute the bare op: eager references, Triton kernels)."""
    if not spec.epilogue:
        return outputs
    main = outputs[0]
    for name, arg in spec.epilogue:
        main = torch.relu(main) if name == "relu" else main * arg
    return [main] + list(outputs[1:])


def known_values(spec: RegionSpec) -> list[tuple[str, int, int]]:
    """The spec's ``arange`` facts, a batched region's parts' under their prefixes."""
    if spec.kind is RegionKind.BATCHED:
        from ..transforms.slc.batch import prefix_of
        return [(prefix_of(k) + name, start, step) for k, part in enumerate(spec.parts)
                for name, start, step in part.arange]
    return list(spec.arange)


def check_known_values(spec: RegionSpec, inputs: dict[str, torch.Tensor]) -> None:
    """The program was compiled knowing these inputs are aranges (its loops may not read them): check it."""
    for name, start, step in known_values(spec):
        if name not in inputs:
            continue                    # passed under another part's name (``shared``), checked there
        t = inputs[name]
        want = torch.arange(t.numel(), device=t.device) * step + start
        if t.dim() != 1 or not torch.equal(t.long(), want):
            raise RuntimeError(f"region {spec.name}: input {name} was compiled as arange(start={start}, "
                               f"step={step}) but holds other values")


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


class EmbeddingBagAdapter:
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

    fake = reference


class EmbeddingAdapter:
    @staticmethod
    def program_inputs(spec, args):
        weight, indices = args
        check_indices(spec, indices, weight.shape[0], weight.shape[1], error=IndexError)
        return {"table": weight, "indices": indices.reshape(-1)}

    @staticmethod
    def finish(spec, args, outputs):
        weight, indices = args
        return [outputs["out"].reshape(*indices.shape, weight.shape[1])]

    @staticmethod
    def reference(spec, args):
        return [aten.embedding(args[0], args[1], spec.padding_idx)]

    fake = reference


class EmbeddingBackwardAdapter:
    @staticmethod
    def program_inputs(spec, args):
        grad, indices = args
        return {"grad": grad.reshape(indices.numel(), grad.shape[-1]), "indices": indices.reshape(-1)}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["grad_weight"]]

    @staticmethod
    def reference(spec, args):
        return [aten.embedding_dense_backward(args[0], args[1], spec.num_weights, spec.padding_idx, False)]

    fake = reference


def _bag_offsets_for(grad: torch.Tensor, indices: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Backward ops are not told ``include_last_offset``; the gradient's row count says it."""
    return with_last_offset(offsets, indices.numel(), grad.shape[0] == offsets.shape[0] - 1)


class EmbeddingBagBackwardAdapter:
    @staticmethod
    def program_inputs(spec, args):
        grad, indices, offsets, _offset2bag, bag_size, max_indices = args[:6]
        if spec.mode is BagMode.MAX:
            return {"grad": grad.reshape(-1), "max_indices": max_indices.reshape(-1), "bag_size": bag_size}
        inputs = {"grad": grad, "indices": indices, "offsets": _bag_offsets_for(grad, indices, offsets)}
        if spec.has_weights:
            inputs["weights"] = args[6]
        if spec.mode is BagMode.MEAN:
            inputs["bag_size"] = bag_size
        return inputs

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["grad_weight"]]

    @staticmethod
    def reference(spec, args):
        psw = args[6] if spec.has_weights else None
        return [aten._embedding_bag_backward(*args[:6], spec.num_weights, False, int(spec.mode), False, psw,
                                             spec.padding_idx)]

    fake = reference


class EmbeddingBagWeightsBackwardAdapter:
    @staticmethod
    def program_inputs(spec, args):
        grad, weight, indices, offsets = args[:4]
        return {"grad": grad, "table": weight, "indices": indices,
                "offsets": _bag_offsets_for(grad, indices, offsets)}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["grad_weights"]]

    @staticmethod
    def reference(spec, args):
        return [aten._embedding_bag_per_sample_weights_backward(*args[:5], int(spec.mode), spec.padding_idx)]

    fake = reference


from .index_adapters import (  # noqa: E402  (they build on the helpers above)
    FinishRowsAdapter, GatherElementsAdapter, GatherRowsAdapter, GatherScatterAdapter, ScatterElementsAdapter,
    ScatterRowsAdapter, SegmentProductsAdapter, SegmentReduceAdapter, SegmentReduceBackwardAdapter,
    SegmentTiesAdapter,
)

ADAPTERS = {
    RegionKind.EMBEDDING_BAG: EmbeddingBagAdapter,
    RegionKind.EMBEDDING: EmbeddingAdapter,
    RegionKind.EMBEDDING_BACKWARD: EmbeddingBackwardAdapter,
    RegionKind.EMBEDDING_BAG_BACKWARD: EmbeddingBagBackwardAdapter,
    RegionKind.EMBEDDING_BAG_MAX_BACKWARD: EmbeddingBagBackwardAdapter,
    RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD: EmbeddingBagWeightsBackwardAdapter,
    RegionKind.GATHER_ROWS: GatherRowsAdapter,
    RegionKind.SCATTER_ROWS: ScatterRowsAdapter,
    RegionKind.GATHER_SCATTER: GatherScatterAdapter,
    RegionKind.GATHER_ELEMENTS: GatherElementsAdapter,
    RegionKind.SCATTER_ELEMENTS: ScatterElementsAdapter,
    RegionKind.SEGMENT_REDUCE: SegmentReduceAdapter,
    RegionKind.SEGMENT_REDUCE_BACKWARD: SegmentReduceBackwardAdapter,
    RegionKind.FINISH_ROWS: FinishRowsAdapter,
    RegionKind.SEGMENT_TIES: SegmentTiesAdapter,
    RegionKind.SEGMENT_PRODUCTS: SegmentProductsAdapter,
}


def _arity(part: RegionSpec) -> int:
    if part.kind is RegionKind.EMBEDDING_BAG:
        return 3 + part.has_weights
    if part.kind in (RegionKind.EMBEDDING, RegionKind.GATHER_ROWS):
        return 2
    raise ValueError(f"regions of kind {part.kind.value} are not batched")


def _split(spec: RegionSpec, args: list) -> list[list]:
    """Each part's own arguments out of the batched region's concatenated list."""
    parts, start = [], 0
    for part in spec.parts:
        parts.append(list(args[start:start + _arity(part)]))
        start += _arity(part)
    return parts


class BatchedAdapter:
    """Several regions in one launch: each part's adapter does its own work, under the part's prefix."""

    @staticmethod
    def program_inputs(spec, args):
        from ..transforms.slc.batch import prefix_of
        inputs = {}
        for k, (part, part_args) in enumerate(zip(spec.parts, _split(spec, args))):
            inputs.update({prefix_of(k) + name: t for name, t in ADAPTERS[part.kind].program_inputs(part, part_args).items()})
        for alias, of in spec.shared:           # one tensor, passed once
            a, b = inputs.pop(alias), inputs[of]
            same = (a.data_ptr(), a.shape, a.stride(), a.dtype) == (b.data_ptr(), b.shape, b.stride(), b.dtype)
            if not same and not (a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)):
                # (an index whose negative values were wrapped is a new tensor with the same values)
                raise ValueError(f"region {spec.name}: inputs {alias} and {of} were compiled as one tensor")
        return inputs

    @staticmethod
    def finish(spec, args, outputs):
        from ..transforms.slc.batch import prefix_of
        results = []
        for k, (part, part_args) in enumerate(zip(spec.parts, _split(spec, args))):
            prefix = prefix_of(k)
            mine = {name[len(prefix):]: t for name, t in outputs.items() if name.startswith(prefix)}
            results += ADAPTERS[part.kind].finish(part, part_args, mine)
        return results

    @staticmethod
    def reference(spec, args):
        return [t for part, part_args in zip(spec.parts, _split(spec, args))
                for t in ADAPTERS[part.kind].reference(part, part_args)]

    fake = reference


ADAPTERS[RegionKind.BATCHED] = BatchedAdapter
