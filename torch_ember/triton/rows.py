"""Row gathers and row scatters as Triton kernels: ``embedding`` / ``index_select`` / ``x[index]``, the
embedding's backward, ``index_add`` / ``index_put`` / ``index_reduce`` / row-broadcast scatters, and
message passing (a row gather fused with a row scatter, ``out[dst[e]] (op)= x[src[e]] * w[e]``).

Scatters compute only the aggregate from the reduction's identity, plus a contribution count where the
combine needs one (``RegionSpec.needs_count``), exactly as the DAE programs do; the adapters' ``finish`` merges them
with the destination's old value. Sum, mean, amax and amin use Triton's float atomics on an fp32 (fp64)
buffer. Triton has no atomic multiply, so ``prod`` falls back to sorting the contributions by destination
and reducing each destination's segment in one program (``segment.scatter_sorted``).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..region_spec import Reduction, RegionSpec
from ..runtime.adapters import segment as segment_math
from .common import acc_buffer, block_d, check_device, rows_per_step, tl_acc
from .segment import scatter_sorted

ATOMIC = {Reduction.SUM: 0, Reduction.MEAN: 0, Reduction.MAX: 1, Reduction.MIN: 2}   # the kernel's REDUCE: atomic add, max, min


@triton.jit
def _gather_rows_kernel(table, indices, out, n, dim, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    i = tl.program_id(0).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    ok = (i < n)[:, None] & (cols < dim)[None, :]
    r = tl.load(indices + i, mask=i < n, other=0).to(tl.int64)
    rows = tl.load(table + r[:, None] * dim + cols[None, :], mask=ok)
    tl.store(out + i[:, None] * dim + cols[None, :], rows, mask=ok)


@triton.jit
def _scatter_rows_kernel(values, gather, target, weights, out, count, n, dim, padding_idx,
                         GATHER: tl.constexpr, HAS_WEIGHTS: tl.constexpr, REDUCE: tl.constexpr, COUNT: tl.constexpr,
                         ACC: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """``out[target[i]] (op)= values[gather[i] or i] * weights[i]`` for a block of ``i``; targets equal to
    ``padding_idx`` are skipped (the embedding's backward)."""
    i = tl.program_id(0).to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    live = i < n
    t = tl.load(target + i, mask=live, other=0).to(tl.int64)
    live = live & (t != padding_idx)
    s = i
    if GATHER:
        s = tl.load(gather + i, mask=live, other=0).to(tl.int64)
    ok = live[:, None] & (cols < dim)[None, :]
    rows = tl.load(values + s[:, None] * dim + cols[None, :], mask=ok, other=0.0).to(ACC)
    if HAS_WEIGHTS:
        rows = rows * tl.load(weights + i, mask=live, other=0.0).to(ACC)[:, None]
    at = out + t[:, None] * dim + cols[None, :]
    if REDUCE == 0:
        tl.atomic_add(at, rows, mask=ok)
    elif REDUCE == 1:
        tl.atomic_max(at, rows, mask=ok)
    else:
        tl.atomic_min(at, rows, mask=ok)
    if COUNT:
        if tl.program_id(1) == 0:   # one count per contribution, from the first column block
            tl.atomic_add(count + t, tl.full([BLOCK_N], 1.0, tl.float32), mask=live)


def gather_rows(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """``embedding`` and row gathers: ``out[i] = table[indices[i]]``."""
    table, indices = inputs["table"].contiguous(), inputs["indices"]
    check_device(table, indices)
    n, dim = indices.numel(), table.shape[1]
    out = table.new_empty(n, dim)
    if n and dim:
        block = block_d(dim)
        rows = rows_per_step(dim, n)
        _gather_rows_kernel[(triton.cdiv(n, rows), triton.cdiv(dim, block))](table, indices, out, n, dim,
                                                                           BLOCK_N=rows, BLOCK_D=block)
    return {"out": out}


def _segment_rows(spec: RegionSpec, offsets: torch.Tensor, rows: int, *tables: torch.Tensor) -> list[torch.Tensor]:
    """Each table's segment row for every data row (the gather kernel), the rows' segment numbers made on
    the device from the offsets (``rows``, the lengths' sum, is known without reading them back)."""
    segment = segment_math.segment_of_row(offsets, rows)     # past the last segment: the spare zero row
    return [gather_rows(spec, {"table": segment_math.with_a_spare_row(t), "indices": segment}, {})["out"]
            for t in tables]


def segment_reduce_backward(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """A segment reduction's backward: each row gathers its segment's gradient row (over the segment's
    length for mean; for max and min, to the ties only, shared as PyTorch shares it)."""
    grad, offsets, rows = inputs["grad"], inputs["offsets"], sizes["num_rows"]
    if spec.reduce in (Reduction.MAX, Reduction.MIN):
        data = inputs["data"]
        g, result, n = _segment_rows(spec, offsets, rows, grad, inputs["output"], inputs["ties"])
        each = torch.where(n > 1.5, torch.where(g > 0, g / n, g), g)
        return {"grad_data": torch.where(segment_math.is_tie(data, result), each, 0.0).to(grad.dtype)}
    if spec.reduce is Reduction.PROD:
        return {"grad_data": _product_backward(spec, inputs, rows)}
    (out,) = _segment_rows(spec, offsets, rows, grad)
    if spec.reduce is Reduction.MEAN:
        lengths = segment_math.with_a_spare_row(offsets[1:] - offsets[:-1]).clamp(min=1)
        out = out / lengths[segment_math.segment_of_row(offsets, rows)].unsqueeze(1).to(out.dtype)
    return {"grad_data": out}


def _product_backward(spec: RegionSpec, inputs: dict, rows: int) -> torch.Tensor:
    """As the device program computes it (``conversion.fx_to_slc.segment``): a NaN or zero element gets the
    gradient times the product of the others, told from the products and counts; the others the gradient
    times the result over the element."""
    data, grad = inputs["data"], inputs["grad"]
    g, result, product, zeros, nans, infs = _segment_rows(spec, inputs["offsets"], rows, grad, inputs["output"],
                                                          *(inputs[n] for n in ("products", "zeros", "nans", "infs")))
    zero, nan = data == 0, torch.isnan(data)
    rest = torch.where(zeros - zero.float() > 0.5, torch.where(infs > 0.5, float("nan"), 0.0), product)
    if spec.initial is not None:
        rest = rest * spec.initial
    exclusive = torch.where(nans - nan.float() > 0.5, float("nan"), rest)
    return torch.where(zero | nan, g * exclusive, g * result / data).to(grad.dtype)


def segment_products(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """A prod segment backward's products and counts (torch operations on the GPU, no kernel of their own)."""
    offsets = inputs["offsets"]
    stats = segment_math.segment_products(inputs["data"], offsets, offsets.numel() - 1)
    return dict(zip(("products", "zeros", "nans", "infs"), stats))


def segment_ties(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """A max or min segment backward's ties per segment and column (torch operations, no kernel of their own)."""
    return {"ties": segment_math.segment_ties(inputs["data"], inputs["output"], inputs["offsets"])}


def scatter(values: torch.Tensor, target: torch.Tensor, num_out: int, reduce: Reduction, *, gather=None, weights=None,
            count: bool = False, padding_idx: int = -1) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The aggregate (in the accumulation dtype) and, when ``count``, contributions per destination row."""
    values = values.contiguous()
    check_device(values, target)
    if reduce not in ATOMIC:
        out, counts = scatter_sorted(values, target, num_out, reduce, gather=gather, weights=weights)
        return out, counts if count else None
    n, dim = target.numel(), values.shape[1]
    out = acc_buffer((num_out, dim), values.dtype, reduce, values.device)
    counts = torch.zeros(num_out, dtype=torch.float32, device=values.device) if count else None
    if n and dim:
        block = block_d(dim)
        rows = rows_per_step(dim, n)
        _scatter_rows_kernel[(triton.cdiv(n, rows), triton.cdiv(dim, block))](
            values, gather if gather is not None else target, target, weights if weights is not None else values,
            out, counts if count else out, n, dim, padding_idx, GATHER=gather is not None,
            HAS_WEIGHTS=weights is not None, REDUCE=ATOMIC[reduce], COUNT=count, ACC=tl_acc(values.dtype),
            BLOCK_N=rows, BLOCK_D=block)
    return out, counts


def _scatter_outputs(values: torch.Tensor, out: torch.Tensor, counts) -> dict[str, torch.Tensor]:
    outputs = {"out": out.to(values.dtype)}
    if counts is not None:
        outputs["count"] = counts
    return outputs


def scatter_rows(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    src = inputs["src"]
    out, counts = scatter(src, inputs["indices"], sizes["num_out"], spec.reduce, weights=inputs.get("weights"),
                          count=spec.needs_count)
    return _scatter_outputs(src, out, counts)


def gather_scatter(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    table = inputs["table"]
    out, counts = scatter(table, inputs["dst"], sizes["num_out"], spec.reduce, gather=inputs["src"],
                          weights=inputs.get("weights"), count=spec.needs_count)
    return _scatter_outputs(table, out, counts)


def embedding_backward(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """``embedding_dense_backward``: gradient rows added into their rows of the table, padding skipped."""
    grad = inputs["grad"]
    out, _ = scatter(grad, inputs["indices"], spec.num_weights, Reduction.SUM, padding_idx=spec.padding_idx)
    return {"grad_weight": out.to(grad.dtype)}
