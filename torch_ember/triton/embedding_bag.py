"""Embedding-bag forward (sum, mean, max; per-sample weights; padding index) as Triton kernels.

One program pools one bag over one block of columns, loading ``BLOCK_N`` of the bag's rows per step so
many row loads are in flight at once: the GPU's way of hiding memory latency, where the DAE device
decouples an access unit instead. Outputs match the DAE program's (``conversion/fx_to_slc/embedding_bag``):
``out``; in mean and max mode ``bag_size`` (rows that are not padding); in max mode ``max_indices`` (the
row that gave each column's maximum, the first on ties, 0 for an empty bag).

``embedding_bags`` pools several tables in one launch (a grid over bags x column blocks x tables), each
table described by a row of metadata (its tensors' addresses, width, mode), as FBGEMM's table-batched
embeddings do on GPUs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from ..region_spec import BagMode, RegionSpec
from .common import check_device, rows_per_step, tl_acc, block_d


@triton.jit
def _pool(table, indices, offsets, weights, out, bag_size, max_indices, b, dim, padding_idx, mode, has_weights,
          ACC: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Pool bag ``b``'s rows over this program's columns; ``mode`` and ``has_weights`` may be runtime values."""
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_ok = cols < dim
    lo = tl.load(offsets + b).to(tl.int64)
    hi = tl.load(offsets + b + 1).to(tl.int64)
    acc = tl.zeros([BLOCK_D], dtype=ACC) + tl.where(mode == 2, float("-inf"), 0.0).to(ACC)
    arg = tl.zeros([BLOCK_D], dtype=tl.int64)
    n = tl.zeros([], dtype=tl.int64)
    step = tl.arange(0, BLOCK_N)
    for start in range(lo, hi, BLOCK_N):
        j = start + step
        ok = j < hi
        r = tl.load(indices + j, mask=ok, other=0).to(tl.int64)
        ok = ok & (r != padding_idx)
        rows = tl.load(table + r[:, None] * dim + cols[None, :], mask=ok[:, None] & col_ok[None, :], other=0.0)
        rows = rows.to(ACC)
        if has_weights != 0:
            rows = rows * tl.load(weights + j, mask=ok, other=0.0).to(ACC)[:, None]
        n += tl.sum(ok.to(tl.int64), axis=0)
        if mode == 2:
            rows = tl.where(ok[:, None], rows, float("-inf"))
            best = tl.max(rows, axis=0)
            at = tl.argmax(rows, axis=0)   # the first position holding the maximum
            winner = tl.sum(tl.where(step[:, None] == at[None, :], r[:, None], 0), axis=0)
            better = best > acc            # strictly: an earlier bag row keeps a tie, as PyTorch's kernel does
            arg = tl.where(better, winner, arg)
            acc = tl.where(better, best, acc)
        else:
            acc += tl.sum(rows, axis=0)
    if mode == 1:
        acc = acc / tl.maximum(n, 1).to(ACC)
    if mode == 2:
        acc = tl.where(n > 0, acc, 0.0)
        tl.store(max_indices + b * dim + cols, tl.where(n > 0, arg, 0), mask=col_ok)
    tl.store(out + b * dim + cols, acc.to(out.dtype.element_ty), mask=col_ok)
    if mode != 0:
        tl.store(bag_size + b, n, mask=tl.program_id(1) == 0)


@triton.jit
def _bag_kernel(table, indices, offsets, weights, out, bag_size, max_indices, dim, padding_idx,
                MODE: tl.constexpr, HAS_WEIGHTS: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr,
                BLOCK_D: tl.constexpr):
    _pool(table, indices, offsets, weights, out, bag_size, max_indices, tl.program_id(0).to(tl.int64), dim,
          padding_idx, MODE, HAS_WEIGHTS, ACC, BLOCK_N, BLOCK_D)


@triton.jit
def _bags_kernel(meta, like_table, like_indices, like_offsets, like_size,
                 ACC: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Program (bag, column block, table). ``meta`` has one row of 12 int64 per table: the addresses of its
    table, indices, offsets, weights, out, bag_size and max_indices, then bags, width, mode, padding index
    and whether it has weights; the ``like_*`` tensors give the pointer types the addresses are cast to."""
    row = meta + tl.program_id(2) * 12
    b = tl.program_id(0).to(tl.int64)
    dim = tl.load(row + 8)
    if (b < tl.load(row + 7)) & (tl.program_id(1) * BLOCK_D < dim):
        _pool(tl.load(row + 0).to(like_table.dtype), tl.load(row + 1).to(like_indices.dtype),
              tl.load(row + 2).to(like_offsets.dtype), tl.load(row + 3).to(like_table.dtype),
              tl.load(row + 4).to(like_table.dtype), tl.load(row + 5).to(like_size.dtype),
              tl.load(row + 6).to(like_size.dtype), b, dim, tl.load(row + 10), tl.load(row + 9),
              tl.load(row + 11), ACC, BLOCK_N, BLOCK_D)


def _outputs(table: torch.Tensor, bags: int, mode: BagMode) -> dict[str, torch.Tensor]:
    outputs = {"out": table.new_empty(bags, table.shape[1])}
    if mode is not BagMode.SUM:
        outputs["bag_size"] = torch.empty(bags, dtype=torch.int64, device=table.device)
    if mode is BagMode.MAX:
        outputs["max_indices"] = torch.empty(bags, table.shape[1], dtype=torch.int64, device=table.device)
    return outputs


def forward(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    """One region: ``inputs`` as ``EmbeddingBagAdapter.program_inputs`` gives them (last offset included)."""
    table, indices, offsets = inputs["table"].contiguous(), inputs["indices"], inputs["offsets"]
    weights = inputs.get("weights")
    check_device(table, indices, offsets)
    bags, dim = offsets.numel() - 1, table.shape[1]
    outputs = _outputs(table, bags, spec.mode)
    if bags == 0 or dim == 0:
        return outputs
    block = block_d(dim)
    dummy = outputs["out"]
    _bag_kernel[(bags, triton.cdiv(dim, block))](
        table, indices, offsets, weights if weights is not None else dummy, dummy,
        outputs.get("bag_size", offsets), outputs.get("max_indices", offsets), dim, spec.padding_idx,
        MODE=int(spec.mode), HAS_WEIGHTS=weights is not None, ACC=tl_acc(table.dtype),
        BLOCK_N=rows_per_step(dim, indices.numel() // bags), BLOCK_D=block)
    return outputs


@dataclass(frozen=True)
class Bag:
    """One table's lookups for ``embedding_bags``: offsets with the last offset included."""
    table: torch.Tensor
    indices: torch.Tensor
    offsets: torch.Tensor
    mode: BagMode = BagMode.SUM
    weights: torch.Tensor | None = None
    padding_idx: int = -1


def embedding_bags(bags: list[Bag]) -> list[dict[str, torch.Tensor]]:
    """Pool several tables in one kernel launch; tables share a dtype and device, widths and modes may differ.
    Returns, per table, the outputs ``forward`` returns."""
    if not bags:
        return []
    dtype, device = bags[0].table.dtype, bags[0].table.device
    if any(b.table.dtype != dtype or b.table.device != device for b in bags):
        raise ValueError("embedding_bags: all tables must share one dtype and device")
    index_t = bags[0].indices.dtype
    if any(b.indices.dtype != index_t or b.offsets.dtype != index_t for b in bags):
        index_t = torch.int64   # one pointer type for every table's indices and offsets
    tables = [b.table.contiguous() for b in bags]
    indices = [b.indices.to(index_t) for b in bags]
    offsets = [b.offsets.to(index_t) for b in bags]
    check_device(*tables, *indices, *offsets)
    results = [_outputs(t, o.numel() - 1, b.mode) for t, o, b in zip(tables, offsets, bags)]
    spare = torch.empty(1, dtype=torch.int64, device=device)   # the address of outputs a mode does not make
    meta = torch.tensor([[t.data_ptr(), i.data_ptr(), o.data_ptr(),
                          (b.weights if b.weights is not None else t).data_ptr(), r["out"].data_ptr(),
                          r.get("bag_size", spare).data_ptr(), r.get("max_indices", spare).data_ptr(),
                          o.numel() - 1, t.shape[1], int(b.mode), b.padding_idx, int(b.weights is not None)]
                         for t, i, o, b, r in zip(tables, indices, offsets, bags, results)],
                        dtype=torch.int64, pin_memory=device.type == "cuda").to(device, non_blocking=True)
    widest = max(t.shape[1] for t in tables)
    most_bags = max(o.numel() - 1 for o in offsets)
    if widest == 0 or most_bags == 0:
        return results
    block = block_d(widest)
    mean_rows = sum(i.numel() for i in indices) // max(sum(o.numel() - 1 for o in offsets), 1)
    _bags_kernel[(most_bags, triton.cdiv(widest, block), len(bags))](
        meta, tables[0], indices[0], offsets[0], spare, ACC=tl_acc(dtype),
        BLOCK_N=rows_per_step(widest, mean_rows), BLOCK_D=block)
    return results
