"""Adapters for gathers, scatters and message passing (see ``adapters`` for the contract).

Scatter regions return the scattered aggregate and, where needed, a contribution count; ``combine``
merges them with the destination's old value the way the ATen op defines (``include_self``, ``alpha``,
mean division), as elementwise host work after the region.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ..region_spec import RegionKind, RegionSpec
from .adapters import _check_index_dtype, first_out_of_range, out_of_range
from .checks import require

aten = torch.ops.aten


WRAPPING_OPS = ("index", "index_put")   # advanced indexing: an index in [-size, 0) counts from the end


def _check_range(spec: RegionSpec, index: torch.Tensor, size: int, axis: int, error, *,
                 wraps: bool = False) -> torch.Tensor:
    """The index, checked against ``size`` (and, where ``wraps``, negative ones turned into row numbers)."""
    _check_index_dtype(index, f"index for {spec.table}")
    wrapped = torch.where(index < 0, index + size, index) if wraps else index

    def report():
        position, _ = first_out_of_range(wrapped, size)
        value = int(index.reshape(-1)[position])
        raise error(f"index {value} is out of bounds for dimension {axis} with size {size} "
                    f"({spec.op} on {spec.table}, at position {position} of the index)")
    require(out_of_range(wrapped, size), report)
    return wrapped


def scatter_index_error(op: str, destination: torch.Tensor) -> type[Exception]:
    """The exception eager PyTorch raises for a row scatter's index out of range: ``index_put`` and
    ``index_reduce`` an IndexError, ``index_add`` an IndexError into a 1-D destination and a RuntimeError
    otherwise, the broadcast ``scatter_*`` a RuntimeError."""
    if op in ("index_put", "index_reduce") or op == "index_add" and destination.dim() == 1:
        return IndexError
    return RuntimeError


def _check_same_dtype(spec: RegionSpec, destination: torch.Tensor, source: torch.Tensor) -> None:
    if source.dtype != destination.dtype:
        raise RuntimeError(f"{spec.op}(): self ({destination.dtype}) and source ({source.dtype}) must have the "
                           f"same scalar type (destination {spec.table})")


def _rows(t: torch.Tensor, count: int | None = None) -> torch.Tensor:
    """``t`` as a 2-D table of ``count`` rows (default: its first dimension), each the rest flattened."""
    rows = t.shape[0] if count is None else count
    return t.reshape(rows, t.numel() // rows if rows else math.prod(t.shape[1:]))


def combine(spec: RegionSpec, self: torch.Tensor, agg: torch.Tensor, count: torch.Tensor | None) -> torch.Tensor:
    """The ATen op's result from the destination's old value and the region's aggregate."""
    agg = agg.reshape(self.shape)
    if count is not None:  # one count per destination element, or per destination row
        shape = self.shape if count.numel() == self.numel() else count.shape + (1,) * (self.dim() - 1)
        count = count.reshape(shape).to(agg.dtype)
    if spec.reduce == "sum" and spec.include_self:
        return self + agg * spec.alpha if spec.alpha != 1.0 else self + agg
    touched = None if count is None else count > 0
    if spec.reduce == "mean":
        if spec.include_self:
            return (self + agg) / (count + 1)
        return torch.where(touched, agg / count.clamp(min=1), self)
    merged = {"sum": torch.add, "prod": torch.mul, "amax": torch.maximum, "amin": torch.minimum}[spec.reduce]
    if spec.include_self:
        return merged(self, agg.to(self.dtype))
    return torch.where(touched, agg.to(self.dtype), self)


class GatherRowsAdapter:
    """``index_select(x, 0, index)`` and ``x[index]``: rows of ``x`` viewed as a 2-D table."""

    @staticmethod
    def program_inputs(spec, args):
        x, index = args
        index = _check_range(spec, index, x.shape[0], 0, IndexError, wraps=spec.op in WRAPPING_OPS)
        return {"table": _rows(x), "indices": index.reshape(-1)}

    @staticmethod
    def finish(spec, args, outputs):
        x, index = args
        rows = (index.numel(),) if spec.op == "index_select" else index.shape   # index_select: a 0-d index is one
        return [outputs["out"].reshape(*rows, *x.shape[1:])]

    @staticmethod
    def reference(spec, args):
        x, index = args
        return [aten.index_select(x, 0, index) if spec.op == "index_select" else aten.index.Tensor(x, [index])]

    fake = reference


class ScatterRowsAdapter:
    """``index_add``, ``index_put(accumulate=True)``, ``index_reduce`` and row-broadcast ``scatter_add`` /
    ``scatter_reduce`` along dimension 0. Arguments: ``self, index (1-D), src`` [, ``weights``]."""

    @staticmethod
    def program_inputs(spec, args):
        self, index, src = args[:3]
        _check_same_dtype(spec, self, src)
        index = _check_range(spec, index, self.shape[0], 0, scatter_index_error(spec.op, self),
                             wraps=spec.op in WRAPPING_OPS)
        inputs = {"src": _rows(src, index.numel()) if index.numel() else src.reshape(0, math.prod(self.shape[1:])),
                  "indices": index.reshape(-1)}
        if len(args) > 3:
            inputs["weights"] = args[3]
        return inputs

    @staticmethod
    def sizes(spec, args):
        return {"num_out": args[0].shape[0]}

    @staticmethod
    def finish(spec, args, outputs):
        return [combine(spec, args[0], outputs["out"], outputs.get("count"))]

    @staticmethod
    def reference(spec, args):
        self, index, src = args[:3]
        if spec.op == "index_put":
            return [aten.index_put(self, [index], src, True)]
        if spec.op in ("scatter_add", "scatter_reduce"):
            spread = index.reshape(-1, *([1] * (src.dim() - 1))).expand_as(src)
            if spec.op == "scatter_add":
                return [aten.scatter_add(self, 0, spread, src)]
            return [aten.scatter_reduce.two(self, 0, spread, src, spec.reduce, include_self=spec.include_self)]
        if spec.op == "index_reduce":
            return [aten.index_reduce(self, 0, index, src, spec.reduce, include_self=spec.include_self)]
        return [aten.index_add(self, 0, index, src, alpha=spec.alpha)]

    fake = reference


class GatherScatterAdapter:
    """Fused message passing. Arguments: ``x, src, dst, self`` [, ``weights`` (one per edge)]."""

    @staticmethod
    def program_inputs(spec, args):
        x, src, dst, self = args[:4]
        gathered_by = spec.fused[0] if spec.fused else ""     # the op whose gather was fused in
        src = _check_range(spec, src, x.shape[0], 0, IndexError, wraps=gathered_by in WRAPPING_OPS)
        dst = _check_range(spec, dst, self.shape[0], 0, scatter_index_error(spec.op, self),
                           wraps=spec.op in WRAPPING_OPS)
        inputs = {"table": _rows(x), "src": src.reshape(-1), "dst": dst.reshape(-1)}
        if len(args) > 4:
            inputs["weights"] = args[4].reshape(-1)
        return inputs

    @staticmethod
    def sizes(spec, args):
        return {"num_out": args[3].shape[0]}

    @staticmethod
    def finish(spec, args, outputs):
        return [combine(spec, args[3], outputs["out"], outputs.get("count"))]

    @staticmethod
    def reference(spec, args):
        x, src, dst, self = args[:4]
        messages = aten.index_select(x, 0, src)
        if len(args) > 4:
            messages = messages * args[4].reshape(-1, *([1] * (x.dim() - 1)))
        if spec.reduce == "sum" and spec.include_self:
            return [aten.index_add(self, 0, dst, messages)]
        return [aten.index_reduce(self, 0, dst, messages, spec.reduce, include_self=spec.include_self)]

    fake = reference


class FinishRowsAdapter:
    """A row scatter's finishing pass (see ``conversion.fx_to_slc.finish``). Arguments: the destination's
    old value, the scatter program's aggregate [, its contribution counts]."""

    @staticmethod
    def program_inputs(spec, args):
        old, agg = args[:2]
        inputs = {"old": _rows(old), "agg": agg.reshape(old.shape[0], -1) if old.shape[0] else _rows(old)}
        if len(args) > 2:
            inputs["count"] = args[2]
        return inputs

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["out"].reshape(args[0].shape)]

    @staticmethod
    def reference(spec, args):
        return [combine(spec, args[0], args[1], args[2] if len(args) > 2 else None)]

    fake = reference


def _element_sizes(spec: RegionSpec, data_shape, index_shape) -> dict[str, int]:
    inner = math.prod(data_shape[spec.axis + 1:])
    return {"inner": inner, "k_inner": index_shape[spec.axis] * inner, "n_inner": data_shape[spec.axis] * inner}


def segment_offsets(spec: RegionSpec, bounds: torch.Tensor, rows: int) -> torch.Tensor:
    """The segments' offsets (from lengths or offsets), checked against the data's ``rows``."""
    _check_index_dtype(bounds, "segment lengths or offsets")
    offsets = bounds if spec.op == "offsets" else torch.cat([bounds.new_zeros(1), torch.cumsum(bounds, 0)])

    def wrong_total():
        raise RuntimeError(f"segment lengths sum to {int(offsets[-1])} but the data has {rows} rows")

    def negative():
        raise RuntimeError("segment lengths must be non-negative and offsets non-decreasing")
    # PyTorch checks that the segments cover every row unless ``unsafe``; past the last row they never may
    # reach (eager would read out of bounds; its backward checks nothing)
    every_row = spec.kind is RegionKind.SEGMENT_REDUCE and not spec.unsafe
    if offsets.numel():
        require(offsets[-1] != rows if every_row else offsets[-1] > rows, wrong_total)
    require((offsets[1:] < offsets[:-1]).any(), negative)
    return offsets


class SegmentReduceAdapter:
    """``segment_reduce(data, reduce, lengths= or offsets= [, initial=])`` along dimension 0."""

    @staticmethod
    def program_inputs(spec, args):
        data, bounds = args
        return {"data": _rows(data), "offsets": segment_offsets(spec, bounds, data.shape[0])}

    @staticmethod
    def finish(spec, args, outputs):
        data = args[0]
        return [outputs["out"].reshape(-1, *data.shape[1:])]

    @staticmethod
    def reference(spec, args):
        data, bounds = args
        return [aten.segment_reduce(data, spec.reduce, **{spec.op: bounds},     # op: "lengths" or "offsets"
                                    initial=spec.initial)]

    fake = reference


def segment_of_row(offsets: torch.Tensor, rows: int) -> torch.Tensor:
    """Each of the ``rows`` data rows' segment number (``rows``, the lengths' sum, is passed so that the
    lengths need not be read back from a GPU)."""
    lengths = offsets[1:] - offsets[:-1]
    return torch.repeat_interleave(torch.arange(lengths.numel(), device=offsets.device), lengths, output_size=rows)


def is_tie(data: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """Where an element ties with its segment's max or min: it is NaN or equals the result (so a NaN result
    ties with NaNs only), as PyTorch's segment backward decides."""
    return torch.isnan(data) | (data == result)


def segment_ties(data: torch.Tensor, output: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Per segment and column, how many elements tie with the segment's result (f32 counts)."""
    segment = segment_of_row(offsets, data.shape[0])
    return torch.zeros(output.shape, dtype=torch.float32, device=data.device).index_add_(
        0, segment, is_tie(data, output[segment]).float())


def segment_products(data: torch.Tensor, offsets: torch.Tensor, segments: int) -> list[torch.Tensor]:
    """Per segment and column: the product of the elements that are neither NaN nor zero (in order, in the
    accumulation dtype), and the counts of zeros, NaNs and infinities (f32)."""
    segment = segment_of_row(offsets, data.shape[0])
    zero, nan = data == 0, torch.isnan(data)
    acc = torch.float64 if data.dtype == torch.float64 else torch.float32
    shape = (segments, data.shape[1])
    products = torch.ones(shape, dtype=acc, device=data.device).scatter_reduce_(
        0, segment.unsqueeze(1).expand(data.shape), torch.where(zero | nan, 1.0, data).to(acc), "prod")
    counts = [torch.zeros(shape, dtype=torch.float32, device=data.device).index_add_(0, segment, c.float())
              for c in (zero, nan, torch.isinf(data))]
    return [products, *counts]


def prepass_region(spec: RegionSpec, args: list[torch.Tensor]) -> tuple[RegionSpec, list[torch.Tensor]] | None:
    """A max, min or prod segment backward first runs a program of its own over each segment (its ties;
    its products and counts): that program's spec and arguments (None for sum and mean). Its outputs
    follow the backward's four arguments."""
    if spec.kind is not RegionKind.SEGMENT_REDUCE_BACKWARD or spec.reduce not in ("max", "min", "prod"):
        return None
    _, output, data, bounds = args[:4]
    if spec.reduce == "prod":
        return RegionSpec(RegionKind.SEGMENT_PRODUCTS, spec.table, op=spec.op), [data, output, bounds]
    return RegionSpec(RegionKind.SEGMENT_TIES, spec.table, reduce=spec.reduce, op=spec.op), [data, output, bounds]


class SegmentTiesAdapter:
    """The ties of a max or min segment backward (``prepass_region``). Arguments: ``data, output, bounds``."""

    @staticmethod
    def program_inputs(spec, args):
        data, output, bounds = args
        offsets = segment_offsets(spec, bounds, data.shape[0])
        return {"data": _rows(data), "output": _rows(output, offsets.numel() - 1), "offsets": offsets}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["ties"]]

    @staticmethod
    def reference(spec, args):
        data, output, bounds = args
        offsets = segment_offsets(spec, bounds, data.shape[0])
        return [segment_ties(_rows(data), _rows(output, offsets.numel() - 1), offsets)]

    fake = reference


class SegmentProductsAdapter:
    """The products and counts of a prod segment backward (``prepass_region``). Arguments: ``data, output,
    bounds`` (``output`` only gives the number of segments)."""

    @staticmethod
    def program_inputs(spec, args):
        data, _, bounds = args
        return {"data": _rows(data), "offsets": segment_offsets(spec, bounds, data.shape[0])}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs[name] for name in ("products", "zeros", "nans", "infs")]

    @staticmethod
    def reference(spec, args):
        data, output, bounds = args
        offsets = segment_offsets(spec, bounds, data.shape[0])
        return segment_products(_rows(data), offsets, offsets.numel() - 1)

    fake = reference


def _undecided(products: torch.Tensor, zeros: torch.Tensor, nans: torch.Tensor, infs: torch.Tensor) -> torch.Tensor:
    """Whether some NaN or zero element's exclusive product cannot be told from the counts: the others hold
    a zero and no NaN or infinity, and the product of the rest overflowed (whether it did so before the zero
    decides between 0 and NaN)."""
    other_zero_no_nan = ((nans == 1) & (zeros >= 1)) | ((nans == 0) & (zeros >= 2))
    return (other_zero_no_nan & (infs == 0) & torch.isinf(products)).any()


class SegmentReduceBackwardAdapter:
    """``_segment_reduce_backward(grad, output, data, reduce, lengths= or offsets=)``. Arguments: ``grad,
    output, data, bounds``, then for max and min the ties, for prod the products and counts, that
    ``prepass_region``'s program made; ``output`` is read by max, min and prod, and by the reference."""

    @staticmethod
    def program_inputs(spec, args):
        grad, output, data, bounds = args[:4]
        offsets = segment_offsets(spec, bounds, data.shape[0])
        inputs = {"grad": _rows(grad), "offsets": offsets}
        segments = offsets.numel() - 1
        if spec.reduce in ("max", "min"):
            inputs.update(data=_rows(data), output=_rows(output, segments), ties=args[4])
        elif spec.reduce == "prod":
            inputs.update(data=_rows(data), output=_rows(output, segments),
                          **dict(zip(("products", "zeros", "nans", "infs"), args[4:8])))
        return inputs

    @staticmethod
    def sizes(spec, args):
        return {"num_rows": args[2].shape[0]}

    @staticmethod
    def finish(spec, args, outputs):
        if spec.reduce == "prod" and bool(_undecided(*args[4:8])):   # rare: PyTorch's kernel decides it
            return SegmentReduceBackwardAdapter.reference(spec, args)
        return [outputs["grad_data"].reshape(args[2].shape)]

    @staticmethod
    def reference(spec, args):
        grad, output, data, bounds = args[:4]
        return [aten._segment_reduce_backward(grad, output, data, spec.reduce, **{spec.op: bounds},
                                              initial=spec.initial)]

    fake = reference


class GatherElementsAdapter:
    """``gather(x, axis, index)`` with ``index`` shaped like ``x`` except along ``axis``."""

    @staticmethod
    def specialize(spec, args):
        """A 2-D index broadcast over the columns (stride 0, as autograd saves ``idx.view(-1, 1).expand(...)``
        for the backward of a row scatter) gathers whole rows: run the row program instead."""
        x, index = args
        if spec.axis == 0 and index.dim() == 2 and x.dim() == 2 and index.stride(1) == 0 and index.shape[1] == x.shape[1]:
            return dataclasses.replace(spec, kind=RegionKind.GATHER_ROWS, op="index_select"), [x, index[:, 0]]
        return spec, args

    @staticmethod
    def program_inputs(spec, args):
        x, index = args
        _check_range(spec, index, x.shape[spec.axis], spec.axis, RuntimeError)
        return {"data": x.reshape(-1), "index": index.reshape(-1)}

    @staticmethod
    def sizes(spec, args):
        return _element_sizes(spec, args[0].shape, args[1].shape)

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["out"].reshape(args[1].shape)]

    @staticmethod
    def reference(spec, args):
        return [aten.gather(args[0], spec.axis, args[1])]

    fake = reference


class ScatterElementsAdapter:
    """``scatter_add`` / ``scatter_reduce`` along ``axis``; arguments ``self, index, src`` (``src`` shaped
    like ``index``, ``index`` like ``self`` except along ``axis``)."""

    @staticmethod
    def program_inputs(spec, args):
        self, index, src = args
        _check_range(spec, index, self.shape[spec.axis], spec.axis, RuntimeError)
        return {"src": src.reshape(-1), "index": index.reshape(-1)}

    @staticmethod
    def sizes(spec, args):
        return {**_element_sizes(spec, args[0].shape, args[1].shape), "numel_out": args[0].numel()}

    @staticmethod
    def finish(spec, args, outputs):
        return [combine(spec, args[0], outputs["out"], outputs.get("count"))]

    @staticmethod
    def reference(spec, args):
        self, index, src = args
        if spec.op == "scatter_add":
            return [aten.scatter_add(self, spec.axis, index, src)]
        return [aten.scatter_reduce.two(self, spec.axis, index, src, spec.reduce, include_self=spec.include_self)]

    fake = reference
