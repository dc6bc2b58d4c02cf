"""Scatter-add tasks: duplicates must accumulate, so the store is ``store_add``, never ``store``."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec, expert_program

F32, I64 = DType.F32, DType.I64
ROWS = cases.SCATTER_ROWS
INDICES = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, ROWS)
CASES = tuple({"dim": c["dim"], "num_indices": c["num_indices"]} for c in cases.GATHER)
BENCH = {"dim": 64, "num_indices": 4096}


def _scatter(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.zeros((ROWS,) + values.shape[1:], dtype=values.dtype).index_add_(0, index, values)


TASKS = (
    Task("scatter_add_rows", Group.SCATTER, 1,
         "Embedding backward: grad_weight[indices[i], :] += grad[i, :] for every i (indices repeat); 16 rows.",
         (TensorSpec("grad", F32, ("num_indices", "dim")), INDICES), (OutputSpec("grad_weight", F32, (ROWS, "dim")),),
         lambda x: {"grad_weight": _scatter(x["grad"], x["indices"])}, expert_program("scatter_add_rows"), CASES, BENCH),
    Task("scatter_add_weighted", Group.SCATTER, 1,
         "Weighted scatter-add: out[indices[i], :] += src[i, :] * weights[i] (indices repeat); 16 rows.",
         (TensorSpec("src", F32, ("num_indices", "dim")), INDICES, TensorSpec("weights", F32, ("num_indices",), Gen.UNIFORM)),
         (OutputSpec("out", F32, (ROWS, "dim")),),
         lambda x: {"out": _scatter(x["src"] * x["weights"].unsqueeze(1), x["indices"])},
         expert_program("scatter_add_weighted"), CASES, BENCH),
    Task("scatter_add_scalar", Group.SCATTER, 1,
         "Scatter-add scalars: out[indices[i]] += values[i] (torch.Tensor.index_add_ on a vector of 16).",
         (TensorSpec("values", F32, ("num_indices",)), INDICES), (OutputSpec("out", F32, (ROWS,)),),
         lambda x: {"out": _scatter(x["values"], x["indices"])}, expert_program("scatter_add_scalar"), CASES, BENCH),
    Task("bincount", Group.SCATTER, 1, "Histogram: counts[k] = number of i with indices[i] == k (torch.bincount, 16 bins).",
         (INDICES,), (OutputSpec("counts", I64, (ROWS,), exact=True),),
         lambda x: {"counts": torch.bincount(x["indices"], minlength=ROWS)}, expert_program("bincount"), CASES, BENCH),
)
