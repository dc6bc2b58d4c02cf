"""``aten.segment_reduce`` and ``aten._segment_reduce_backward`` along dimension 0, and the programs a max,
min or prod backward runs first (``RegionSpec.prepass``): its ties; its products and counts."""
from __future__ import annotations

import torch

from ...region_spec import Reduction, RegionKind, RegionSpec, SegmentBounds
from ..checks import require
from .base import AdapterDefaults, check_index_dtype, rows, aten

def segment_offsets(spec: RegionSpec, bounds: torch.Tensor, rows: int) -> torch.Tensor:
    """The segments' offsets (from lengths or offsets), checked against the data's ``rows``."""
    check_index_dtype(bounds, "segment lengths or offsets")
    offsets = bounds if spec.bounds is SegmentBounds.OFFSETS else torch.cat([bounds.new_zeros(1), torch.cumsum(bounds, 0)])

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


def segment_of_row(offsets: torch.Tensor, rows: int) -> torch.Tensor:
    """Each of the ``rows`` data rows' segment number; ``offsets.numel() - 1`` (one past the last segment)
    for rows after the last segment, which ``unsafe=True`` allows. Made on the tensors' device, without
    reading the offsets back."""
    return torch.searchsorted(offsets[1:], torch.arange(rows, device=offsets.device, dtype=offsets.dtype),
                              right=True)


def is_tie(data: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """Where an element ties with its segment's max or min: it is NaN or equals the result (so a NaN result
    ties with NaNs only), as PyTorch's segment backward decides."""
    return torch.isnan(data) | (data == result)


def with_a_spare_row(t: torch.Tensor) -> torch.Tensor:
    """``t`` and a row of zeros after it: where rows after the last segment (``segment_of_row``) land."""
    return torch.cat([t, t.new_zeros(1, *t.shape[1:])])


def segment_ties(data: torch.Tensor, output: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Per segment and column, how many elements tie with the segment's result (f32 counts)."""
    segment = segment_of_row(offsets, data.shape[0])
    counts = torch.zeros((output.shape[0] + 1, *output.shape[1:]), dtype=torch.float32, device=data.device)
    return counts.index_add_(0, segment, is_tie(data, with_a_spare_row(output)[segment]).float())[:-1]


def segment_products(data: torch.Tensor, offsets: torch.Tensor, segments: int) -> list[torch.Tensor]:
    """Per segment and column: the product of the elements that are neither NaN nor zero (in order, in the
    accumulation dtype), and the counts of zeros, NaNs and infinities (f32)."""
    segment = segment_of_row(offsets, data.shape[0])
    zero, nan = data == 0, torch.isnan(data)
    acc = torch.float64 if data.dtype == torch.float64 else torch.float32
    shape = (segments + 1, data.shape[1])      # a spare row for rows after the last segment, dropped
    products = torch.ones(shape, dtype=acc, device=data.device).scatter_reduce_(
        0, segment.unsqueeze(1).expand(data.shape), torch.where(zero | nan, 1.0, data).to(acc), "prod")
    counts = [torch.zeros(shape, dtype=torch.float32, device=data.device).index_add_(0, segment, c.float())
              for c in (zero, nan, torch.isinf(data))]
    return [t[:-1] for t in (products, *counts)]


class SegmentReduceAdapter(AdapterDefaults):
    """``segment_reduce(data, reduce, lengths= or offsets= [, initial=])`` along dimension 0."""

    @staticmethod
    def program_inputs(spec, args):
        data, bounds = args
        return {"data": rows(data), "offsets": segment_offsets(spec, bounds, data.shape[0])}

    @staticmethod
    def finish(spec, args, outputs):
        data = args[0]
        return [outputs["out"].reshape(-1, *data.shape[1:])]

    @staticmethod
    def reference(spec, args):
        data, bounds = args
        return [aten.segment_reduce(data, spec.reduce.value, **{spec.bounds.value: bounds}, initial=spec.initial,
                                    unsafe=spec.unsafe)]



def prepass_args(args: list[torch.Tensor]) -> list[torch.Tensor]:
    """The arguments of a segment backward's prepass (``RegionSpec.prepass``) out of the backward's: ``data,
    output, bounds``. Its outputs follow the backward's four arguments."""
    _, output, data, bounds = args[:4]
    return [data, output, bounds]


class SegmentTiesAdapter(AdapterDefaults):
    """The ties of a max or min segment backward (``RegionSpec.prepass``). Arguments: ``data, output, bounds``."""

    @staticmethod
    def program_inputs(spec, args):
        data, output, bounds = args
        offsets = segment_offsets(spec, bounds, data.shape[0])
        return {"data": rows(data), "output": rows(output, offsets.numel() - 1), "offsets": offsets}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["ties"]]

    @staticmethod
    def reference(spec, args):
        data, output, bounds = args
        offsets = segment_offsets(spec, bounds, data.shape[0])
        return [segment_ties(rows(data), rows(output, offsets.numel() - 1), offsets)]



class SegmentProductsAdapter(AdapterDefaults):
    """The products and counts of a prod segment backward (``RegionSpec.prepass``). Arguments: ``data, output,
    bounds`` (``output`` only gives the number of segments)."""

    @staticmethod
    def program_inputs(spec, args):
        data, _, bounds = args
        return {"data": rows(data), "offsets": segment_offsets(spec, bounds, data.shape[0])}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs[name] for name in ("products", "zeros", "nans", "infs")]

    @staticmethod
    def reference(spec, args):
        data, output, bounds = args
        offsets = segment_offsets(spec, bounds, data.shape[0])
        return segment_products(rows(data), offsets, offsets.numel() - 1)



def _undecided(products: torch.Tensor, zeros: torch.Tensor, nans: torch.Tensor, infs: torch.Tensor) -> torch.Tensor:
    """Whether some NaN or zero element's exclusive product cannot be told from the counts: the others hold
    a zero and no NaN or infinity, and the product of the rest overflowed (whether it did so before the zero
    decides between 0 and NaN)."""
    other_zero_no_nan = ((nans == 1) & (zeros >= 1)) | ((nans == 0) & (zeros >= 2))
    return (other_zero_no_nan & (infs == 0) & torch.isinf(products)).any()


class SegmentReduceBackwardAdapter(AdapterDefaults):
    """``_segment_reduce_backward(grad, output, data, reduce, lengths= or offsets=)``. Arguments: ``grad,
    output, data, bounds``, then for max and min the ties, for prod the products and counts, that
    the prepass program made (``prepass_args``); ``output`` is read by max, min and prod, and by the reference."""

    @staticmethod
    def program_inputs(spec, args):
        grad, output, data, bounds = args[:4]
        offsets = segment_offsets(spec, bounds, data.shape[0])
        inputs = {"grad": rows(grad), "offsets": offsets}
        segments = offsets.numel() - 1
        if spec.reduce in (Reduction.MAX, Reduction.MIN):
            inputs.update(data=rows(data), output=rows(output, segments), ties=args[4])
        elif spec.reduce is Reduction.PROD:
            inputs.update(data=rows(data), output=rows(output, segments),
                          **dict(zip(("products", "zeros", "nans", "infs"), args[4:8])))
        return inputs

    @staticmethod
    def sizes(spec, args):
        return {"num_rows": args[2].shape[0]}

    @staticmethod
    def finish(spec, args, outputs):
        if spec.reduce is Reduction.PROD and bool(_undecided(*args[4:8])):   # rare: PyTorch's kernel decides it
            return SegmentReduceBackwardAdapter.reference(spec, args)
        return [outputs["grad_data"].reshape(args[2].shape)]

    @staticmethod
    def reference(spec, args):
        grad, output, data, bounds = args[:4]
        return [aten._segment_reduce_backward(grad, output, data, spec.reduce.value, **{spec.bounds.value: bounds},
                                              initial=spec.initial)]

