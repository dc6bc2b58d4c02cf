"""What every kernel family shares: where kernels may run, block sizes, and accumulation buffers.

Reductions accumulate in fp32 (fp64 for fp64 data), as the DAE programs and PyTorch's kernels do, so
half-precision results agree with eager and the float atomics Triton has (add, max, min on fp32/fp64)
can be used for every floating dtype.
"""
from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from ..region_spec import Reduction

def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def check_device(*tensors: torch.Tensor) -> None:
    """Compiled Triton kernels need CUDA tensors; under ``TRITON_INTERPRET=1`` they run on CPU tensors."""
    for t in tensors:
        if t.device.type != "cuda" and not interpreting():
            raise RuntimeError(f"regions='triton' got a tensor on {t.device.type}: the Triton kernels need CUDA "
                               "tensors (or TRITON_INTERPRET=1, set before triton is imported, to run them on the CPU)")


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def tl_acc(dtype: torch.dtype):
    """The Triton accumulator type for data of ``dtype`` (a constexpr argument of the kernels)."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def acc_buffer(shape, dtype: torch.dtype, reduce: Reduction, device) -> torch.Tensor:
    """A buffer filled with the reduction's identity, that atomics accumulate into."""
    return torch.full(shape, reduce.identity, dtype=acc_dtype(dtype), device=device)


def block_d(dim: int) -> int:
    """Columns per program: the whole row up to 128 (a 512-byte fp32 row, full memory transactions)."""
    return min(max(triton.next_power_of_2(max(dim, 1)), 16), 128)


def rows_per_step(dim: int, rows_hint: int) -> int:
    """Rows loaded per step: about ``rows_hint`` (a bag's mean length, say), so most loads in a step are
    real, and at most ~4K elements, so a program keeps many loads in flight without spilling registers."""
    return min(max(triton.next_power_of_2(max(rows_hint, 1)), 8), max(4096 // block_d(dim), 8))
