"""Scatter-add tasks: duplicates must accumulate, so the store is ``store_add``, never ``store``."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

F32, I64 = DType.F32, DType.I64
ROWS = cases.SCATTER_ROWS
INDICES = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, ROWS)
CASES = tuple({"dim": c["dim"], "num_indices": c["num_indices"]} for c in cases.GATHER)
BENCH = {"dim": 64, "num_indices": 4096}

SCATTER_ROWS = """program scatter_add_rows
param grad: f32[num_indices, dim]
param indices: i64[num_indices]
output grad_weight: f32[16, dim]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  stream g = load_row grad[i] @tu0
  on tu0.iter: push q_r <- r, q_g <- g; token ITEM
queues:
  queue q_r: scalar i64
  queue q_g: row f32
execute:
  callback ITEM:
    %r = pop q_r
    %g = pop q_g
    store_add grad_weight[%r] += %g
"""

SCATTER_WEIGHTED = """program scatter_add_weighted
param src: f32[num_indices, dim]
param indices: i64[num_indices]
param weights: f32[num_indices]
output out: f32[16, dim]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  stream s = load_row src[i] @tu0
  stream w = load weights[i] @tu0
  on tu0.iter: push q_r <- r, q_s <- s, q_w <- w; token ITEM
queues:
  queue q_r: scalar i64
  queue q_s: row f32
  queue q_w: scalar f32
execute:
  callback ITEM:
    %r = pop q_r
    %s = pop q_s
    %w = pop q_w
    %y = mul %s, %w
    store_add out[%r] += %y
"""

SCATTER_SCALAR = """program scatter_add_scalar
param values: f32[num_indices]
param indices: i64[num_indices]
output out: f32[16]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  stream v = load values[i] @tu0
  on tu0.iter: push q_r <- r, q_v <- v; token ITEM
queues:
  queue q_r: scalar i64
  queue q_v: scalar f32
execute:
  callback ITEM:
    %r = pop q_r
    %v = pop q_v
    store_add out[%r] += %v
"""

BINCOUNT = """program bincount
param indices: i64[num_indices]
output counts: i64[16]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  on tu0.iter: push q_r <- r; token ITEM
queues:
  queue q_r: scalar i64
execute:
  callback ITEM:
    %r = pop q_r
    store_add counts[%r] += 1
"""


def _scatter(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.zeros((ROWS,) + values.shape[1:], dtype=values.dtype).index_add_(0, index, values)


TASKS = (
    Task("scatter_add_rows", Group.SCATTER, 1,
         "Embedding backward: grad_weight[indices[i], :] += grad[i, :] for every i (indices repeat); 16 rows.",
         (TensorSpec("grad", F32, ("num_indices", "dim")), INDICES), (OutputSpec("grad_weight", F32, (ROWS, "dim")),),
         lambda x: {"grad_weight": _scatter(x["grad"], x["indices"])}, SCATTER_ROWS, CASES, BENCH),
    Task("scatter_add_weighted", Group.SCATTER, 1,
         "Weighted scatter-add: out[indices[i], :] += src[i, :] * weights[i] (indices repeat); 16 rows.",
         (TensorSpec("src", F32, ("num_indices", "dim")), INDICES, TensorSpec("weights", F32, ("num_indices",), Gen.UNIFORM)),
         (OutputSpec("out", F32, (ROWS, "dim")),),
         lambda x: {"out": _scatter(x["src"] * x["weights"].unsqueeze(1), x["indices"])}, SCATTER_WEIGHTED, CASES, BENCH),
    Task("scatter_add_scalar", Group.SCATTER, 1,
         "Scatter-add scalars: out[indices[i]] += values[i] (torch.Tensor.index_add_ on a vector of 16).",
         (TensorSpec("values", F32, ("num_indices",)), INDICES), (OutputSpec("out", F32, (ROWS,)),),
         lambda x: {"out": _scatter(x["values"], x["indices"])}, SCATTER_SCALAR, CASES, BENCH),
    Task("bincount", Group.SCATTER, 1, "Histogram: counts[k] = number of i with indices[i] == k (torch.bincount, 16 bins).",
         (INDICES,), (OutputSpec("counts", I64, (ROWS,), exact=True),),
         lambda x: {"counts": torch.bincount(x["indices"], minlength=ROWS)}, BINCOUNT, CASES, BENCH),
)
