"""Segment reductions as a Triton kernel: one program reduces one segment of rows over a block of columns.

It serves ``segment_reduce`` regions (contiguous rows) and, through an optional row indirection, the
scatters Triton has no atomic for: ``scatter_sorted`` sorts the contributions by destination (a stable
sort, so each destination's rows keep their order), turns the counts into offsets, and reduces each
destination's segment without atomics. Empty segments give the reduction's identity (0/0 = nan for mean),
as PyTorch's ``segment_reduce`` does without ``initial``.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..region_spec import Reduction, RegionSpec
from .common import acc_dtype, block_d, check_device, rows_per_step, tl_acc

_REDUCE = {Reduction.SUM: 0, Reduction.MEAN: 1, Reduction.MAX: 2, Reduction.MIN: 3, Reduction.PROD: 4}


@triton.jit
def _mul(a, b):
    return a * b


@triton.jit
def _segment_kernel(values, rows, offsets, weights, out, dim, GATHER: tl.constexpr, HAS_WEIGHTS: tl.constexpr,
                    REDUCE: tl.constexpr, IDENT: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr,
                    BLOCK_D: tl.constexpr):
    """Program (segment, column block): reduce ``values[rows[j] or j] * weights[j]`` for ``j`` in the segment."""
    seg = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_ok = cols < dim
    lo = tl.load(offsets + seg).to(tl.int64)
    hi = tl.load(offsets + seg + 1).to(tl.int64)
    acc = tl.full([BLOCK_D], IDENT, ACC)
    for start in range(lo, hi, BLOCK_N):
        j = start + tl.arange(0, BLOCK_N)
        live = j < hi
        r = j
        if GATHER:
            r = tl.load(rows + j, mask=live, other=0).to(tl.int64)
        ok = live[:, None] & col_ok[None, :]
        v = tl.load(values + r[:, None] * dim + cols[None, :], mask=ok, other=0.0).to(ACC)
        if HAS_WEIGHTS:
            v = v * tl.load(weights + j, mask=live, other=0.0).to(ACC)[:, None]
        v = tl.where(ok, v, IDENT)
        if REDUCE <= 1:
            acc += tl.sum(v, axis=0)
        elif REDUCE == 2:
            acc = tl.maximum(acc, tl.max(v, axis=0))
        elif REDUCE == 3:
            acc = tl.minimum(acc, tl.min(v, axis=0))
        else:
            acc = acc * tl.reduce(v, 0, _mul)
    if REDUCE == 1:
        acc = acc / (hi - lo).to(ACC)
    tl.store(out + seg * dim + cols, acc.to(out.dtype.element_ty), mask=col_ok)


def _reduce_segments(values, offsets, reduce: Reduction, out, *, rows=None, weights=None) -> None:
    segments, dim = offsets.numel() - 1, values.shape[1]
    if segments <= 0 or dim == 0:
        return
    block = block_d(dim)
    _segment_kernel[(segments, triton.cdiv(dim, block))](
        values, rows if rows is not None else offsets, offsets, weights if weights is not None else values, out, dim,
        GATHER=rows is not None, HAS_WEIGHTS=weights is not None, REDUCE=_REDUCE[reduce], IDENT=reduce.identity,
        ACC=tl_acc(values.dtype), BLOCK_N=rows_per_step(dim, (rows if rows is not None else values).shape[0] // segments),
        BLOCK_D=block)


def segment_reduce(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """``segment_reduce`` regions, from ``SegmentReduceAdapter.program_inputs`` (data rows and offsets)."""
    data, offsets = inputs["data"].contiguous(), inputs["offsets"]
    check_device(data, offsets)
    out = data.new_empty(max(offsets.numel() - 1, 0), data.shape[1])
    _reduce_segments(data, offsets, spec.reduce, out)
    return {"out": out if spec.initial is None else _with_initial(spec, out, offsets)}


def _with_initial(spec: RegionSpec, out: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """The segments' reductions started from ``initial`` (the kernel starts from the identity)."""
    if spec.reduce is Reduction.SUM:
        return out + spec.initial
    if spec.reduce is Reduction.PROD:
        return out * spec.initial
    if spec.reduce in (Reduction.MAX, Reduction.MIN):
        merge = torch.maximum if spec.reduce is Reduction.MAX else torch.minimum
        return merge(out, torch.tensor(spec.initial, dtype=out.dtype, device=out.device))
    lengths = (offsets[1:] - offsets[:-1]).unsqueeze(1).to(out.dtype)      # mean: (initial + sum) / length
    return torch.where(lengths > 0, (out * lengths + spec.initial) / lengths.clamp(min=1), spec.initial)


def scatter_sorted(values: torch.Tensor, target: torch.Tensor, num_out: int, reduce: Reduction, *, gather=None,
                   weights=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``out[target[i]] (op)= values[gather[i] or i] * weights[i]`` without atomics: the aggregate in the
    accumulation dtype, and the contributions per destination (float32)."""
    target = target.reshape(-1)
    order = torch.argsort(target, stable=True)
    counts = torch.bincount(target, minlength=num_out)
    offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    rows = order if gather is None else gather.reshape(-1)[order]
    out = torch.empty(num_out, values.shape[1], dtype=acc_dtype(values.dtype), device=values.device)
    _reduce_segments(values, offsets, reduce, out, rows=rows,
                     weights=None if weights is None else weights.reshape(-1)[order])
    return out, counts.to(torch.float32)
