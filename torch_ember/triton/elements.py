"""Element gathers and scatters along any dimension (``gather``, ``scatter_add``, ``scatter_reduce``) as
Triton kernels over the flattened index tensor.

Position ``p`` of the index, viewed as ``[outer, k, inner]`` around the indexed dimension, addresses
``(p // (k*inner)) * n*inner + index[p]*inner + p % inner`` of the data viewed as ``[outer, n, inner]`` (the
DAE program's address streams, ``conversion/fx_to_slc/gather_scatter``); the adapters' ``sizes`` give
``inner``, ``k_inner`` and ``n_inner``. Scatters use float atomics, and ``prod`` the sort-based fallback
(``segment.scatter_sorted``) over the same addresses.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..region_spec import RegionSpec
from .common import acc_buffer, check_device
from .rows import ATOMIC
from .segment import scatter_sorted

_BLOCK = 1024


@triton.jit
def _address(index, p, ok, inner, k_inner, n_inner):
    k = tl.load(index + p, mask=ok, other=0).to(tl.int64)
    return (p // k_inner) * n_inner + k * inner + p % inner


@triton.jit
def _gather_kernel(data, index, out, n, inner, k_inner, n_inner, BLOCK: tl.constexpr):
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = p < n
    tl.store(out + p, tl.load(data + _address(index, p, ok, inner, k_inner, n_inner), mask=ok), mask=ok)


@triton.jit
def _address_kernel(index, at, n, inner, k_inner, n_inner, BLOCK: tl.constexpr):
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = p < n
    tl.store(at + p, _address(index, p, ok, inner, k_inner, n_inner), mask=ok)


@triton.jit
def _scatter_kernel(src, index, out, count, n, inner, k_inner, n_inner, REDUCE: tl.constexpr, COUNT: tl.constexpr,
                    BLOCK: tl.constexpr):
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = p < n
    at = _address(index, p, ok, inner, k_inner, n_inner)
    v = tl.load(src + p, mask=ok, other=0.0).to(out.dtype.element_ty)
    if REDUCE == 0:
        tl.atomic_add(out + at, v, mask=ok)
    elif REDUCE == 1:
        tl.atomic_max(out + at, v, mask=ok)
    else:
        tl.atomic_min(out + at, v, mask=ok)
    if COUNT:
        tl.atomic_add(count + at, tl.full([BLOCK], 1.0, tl.float32), mask=ok)


def _grid(n: int) -> tuple[int]:
    return (triton.cdiv(n, _BLOCK),)


def gather_elements(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    data, index = inputs["data"], inputs["index"]
    check_device(data, index)
    out = data.new_empty(index.numel())
    if index.numel():
        _gather_kernel[_grid(index.numel())](data, index, out, index.numel(), sizes["inner"], sizes["k_inner"],
                                             sizes["n_inner"], BLOCK=_BLOCK)
    return {"out": out}


def scatter_elements(spec: RegionSpec, inputs: dict, sizes: dict) -> dict[str, torch.Tensor]:
    src, index = inputs["src"], inputs["index"]
    check_device(src, index)
    n, numel_out = index.numel(), sizes["numel_out"]
    geometry = (sizes["inner"], sizes["k_inner"], sizes["n_inner"])
    if spec.reduce in ATOMIC:
        out = acc_buffer((numel_out,), src.dtype, spec.reduce, src.device)
        count = torch.zeros(numel_out, dtype=torch.float32, device=src.device)
        if n:
            _scatter_kernel[_grid(n)](src, index, out, count, n, *geometry, REDUCE=ATOMIC[spec.reduce],
                                      COUNT=spec.needs_count, BLOCK=_BLOCK)
    else:
        at = torch.empty(n, dtype=torch.int64, device=src.device)
        if n:
            _address_kernel[_grid(n)](index, at, n, *geometry, BLOCK=_BLOCK)
        out, count = scatter_sorted(src.reshape(-1, 1), at, numel_out, spec.reduce)
    outputs = {"out": out.reshape(-1).to(src.dtype)}
    if spec.needs_count:
        outputs["count"] = count
    return outputs
