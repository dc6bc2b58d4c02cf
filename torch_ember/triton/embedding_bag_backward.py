"""Embedding-bag backward as Triton kernels: the table's gradient (sum and mean by scatter-add with
atomics, max by sending each column's gradient to the row that won it) and the per-sample weights'.

Gradient rows accumulate with ``tl.atomic_add`` into an fp32 (fp64) buffer, so rows looked up by many bags
(hot rows of a Zipf-like feature) sum correctly whatever the order; the buffer is cast to the gradient's
dtype at the end, as the DAE program's ``grad_weight`` is. Argument and output names are the DAE programs'
(``conversion/fx_to_slc/embedding_bag_backward``).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..region_spec import BagMode, Reduction, RegionSpec
from .common import acc_buffer, block_d, check_device, rows_per_step, tl_acc


@triton.jit
def _sum_backward_kernel(grad, indices, offsets, weights, bag_size, grad_weight, dim, padding_idx,
                         HAS_WEIGHTS: tl.constexpr, MEAN: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr,
                         BLOCK_D: tl.constexpr):
    """Program (bag, column block): add the bag's gradient row (scaled) to every row the bag looked up."""
    b = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_ok = cols < dim
    g = tl.load(grad + b * dim + cols, mask=col_ok, other=0.0).to(ACC)
    if MEAN:
        g = g / tl.maximum(tl.load(bag_size + b), 1).to(ACC)   # an empty bag has no rows to update
    lo = tl.load(offsets + b).to(tl.int64)
    hi = tl.load(offsets + b + 1).to(tl.int64)
    for start in range(lo, hi, BLOCK_N):
        j = start + tl.arange(0, BLOCK_N)
        ok = j < hi
        r = tl.load(indices + j, mask=ok, other=0).to(tl.int64)
        ok = ok & (r != padding_idx)
        rows = tl.zeros([BLOCK_N, BLOCK_D], dtype=ACC) + g[None, :]
        if HAS_WEIGHTS:
            rows = rows * tl.load(weights + j, mask=ok, other=0.0).to(ACC)[:, None]
        tl.atomic_add(grad_weight + r[:, None] * dim + cols[None, :], rows, mask=ok[:, None] & col_ok[None, :])


@triton.jit
def _max_backward_kernel(grad, max_indices, bag_size, grad_weight, num_elements, dim, BLOCK: tl.constexpr):
    """Program over a block of ``[bags * dim]`` gradient elements: each to its column's winning row."""
    k = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = k < num_elements
    ok = ok & (tl.load(bag_size + k // dim, mask=ok, other=0) != 0)
    winner = tl.load(max_indices + k, mask=ok, other=0).to(tl.int64)
    g = tl.load(grad + k, mask=ok, other=0.0)
    tl.atomic_add(grad_weight + winner * dim + k % dim, g.to(grad_weight.dtype.element_ty), mask=ok)


@triton.jit
def _weights_backward_kernel(grad, table, indices, offsets, grad_weights, dim, padding_idx, ACC: tl.constexpr,
                             BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Program per bag: each looked-up row's weight gets the dot product of the bag's gradient with the row."""
    b = tl.program_id(0).to(tl.int64)
    lo = tl.load(offsets + b).to(tl.int64)
    hi = tl.load(offsets + b + 1).to(tl.int64)
    for start in range(lo, hi, BLOCK_N):
        j = start + tl.arange(0, BLOCK_N)
        ok = j < hi
        r = tl.load(indices + j, mask=ok, other=0).to(tl.int64)
        keep = ok & (r != padding_idx)
        dot = tl.zeros([BLOCK_N], dtype=ACC)
        for c0 in range(0, dim, BLOCK_D):
            cols = c0 + tl.arange(0, BLOCK_D)
            col_ok = cols < dim
            g = tl.load(grad + b * dim + cols, mask=col_ok, other=0.0).to(ACC)
            rows = tl.load(table + r[:, None] * dim + cols[None, :], mask=keep[:, None] & col_ok[None, :], other=0.0)
            dot += tl.sum(rows.to(ACC) * g[None, :], axis=1)
        tl.store(grad_weights + j, dot.to(grad_weights.dtype.element_ty), mask=ok)


def backward(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """``grad_weight`` for sum, mean and max bags, from ``EmbeddingBagBackwardAdapter.program_inputs``."""
    grad = inputs["grad"].contiguous()
    check_device(grad)
    if spec.mode is BagMode.MAX:
        dim = spec.dim
        acc = acc_buffer((spec.num_weights, dim), grad.dtype, Reduction.SUM, grad.device)
        n = grad.numel()
        if n:
            _max_backward_kernel[(triton.cdiv(n, 1024),)](grad, inputs["max_indices"].contiguous(),
                                                         inputs["bag_size"], acc, n, dim, BLOCK=1024)
        return {"grad_weight": acc.to(grad.dtype)}
    indices, offsets = inputs["indices"], inputs["offsets"]
    bags, dim = grad.shape
    acc = acc_buffer((spec.num_weights, dim), grad.dtype, Reduction.SUM, grad.device)
    if bags and dim:
        block = block_d(dim)
        weights = inputs.get("weights")
        _sum_backward_kernel[(bags, triton.cdiv(dim, block))](
            grad, indices, offsets, weights if weights is not None else grad, inputs.get("bag_size", offsets), acc,
            dim, spec.padding_idx, HAS_WEIGHTS=weights is not None, MEAN=spec.mode is BagMode.MEAN,
            ACC=tl_acc(grad.dtype), BLOCK_N=rows_per_step(dim, indices.numel() // bags), BLOCK_D=block)
    return {"grad_weight": acc.to(grad.dtype)}


def weights_backward(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """``grad_weights`` (one per index), from ``EmbeddingBagWeightsBackwardAdapter.program_inputs``."""
    grad, table = inputs["grad"].contiguous(), inputs["table"].contiguous()
    indices, offsets = inputs["indices"], inputs["offsets"]
    check_device(grad, table)
    out = grad.new_zeros(indices.numel())
    bags, dim = grad.shape
    if bags and indices.numel():
        block = block_d(dim)
        _weights_backward_kernel[(bags,)](grad, table, indices, offsets, out, dim, spec.padding_idx,
                                          ACC=tl_acc(grad.dtype), BLOCK_N=rows_per_step(dim, indices.numel() // bags),
                                          BLOCK_D=block)
    return {"grad_weights": out}
