"""Gather / index_select tasks, alone and followed by elementwise work: one dense loop, no state."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

F32, I32, I64 = DType.F32, DType.I32, DType.I64
TABLE = TensorSpec("table", F32, ("num_rows", "dim"))
INDICES = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows")
ROWS_OUT = OutputSpec("out", F32, ("num_indices", "dim"), exact=True)

_HEADER = """\
param table: f32[num_rows, dim]
param indices: i64[num_indices]
output out: f32[num_indices, dim]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  stream row = load_row table[r] @tu0
"""

GATHER_ROWS = """program gather_rows
""" + _HEADER + """\
  on tu0.iter: push q_i <- i, q_row <- row; token ROW
queues:
  queue q_i: scalar i64
  queue q_row: row f32
execute:
  callback ROW:
    %i = pop q_i
    %row = pop q_row
    store out[%i] = %row
"""

GATHER_PADDING = """program gather_padding_idx
""" + _HEADER + """\
  stream keep = alu ne(r, 2) @tu0
  on tu0.iter when keep: push q_i <- i, q_row <- row; token ROW
queues:
  queue q_i: scalar i64
  queue q_row: row f32
execute:
  callback ROW:
    %i = pop q_i
    %row = pop q_row
    store out[%i] = %row
"""

GATHER_RELU = """program gather_relu
""" + _HEADER + """\
  on tu0.iter: push q_i <- i, q_row <- row; token ROW
queues:
  queue q_i: scalar i64
  queue q_row: row f32
execute:
  callback ROW:
    %i = pop q_i
    %row = pop q_row
    %y = max %row, 0.0
    store out[%i] = %y
"""

INDEX_SELECT_1D = """program index_select_1d
param values: f32[num_rows]
param indices: i64[num_indices]
output out: f32[num_indices]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  stream v = load values[r] @tu0
  on tu0.iter: push q_i <- i, q_v <- v; token ITEM
queues:
  queue q_i: scalar i64
  queue q_v: scalar f32
execute:
  callback ITEM:
    %i = pop q_i
    %v = pop q_v
    store out[%i] = %v
"""

GATHER_I32 = GATHER_ROWS.replace("program gather_rows", "program gather_rows_i32").replace(
    "param indices: i64", "param indices: i32")

GATHER_SCALE = """program gather_scale
param table: f32[num_rows, dim]
param indices: i64[num_indices]
param scale: f32[num_indices]
output out: f32[num_indices, dim]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream r = load indices[i] @tu0
  stream row = load_row table[r] @tu0
  stream s = load scale[i] @tu0
  on tu0.iter: push q_i <- i, q_row <- row, q_s <- s; token ROW
queues:
  queue q_i: scalar i64
  queue q_row: row f32
  queue q_s: scalar f32
execute:
  callback ROW:
    %i = pop q_i
    %row = pop q_row
    %s = pop q_s
    %y = mul %row, %s
    store out[%i] = %y
"""

_PAIRS = """\
param table: f32[num_rows, dim]
param left: i64[num_pairs]
param right: i64[num_pairs]
access:
  traversal tu0 = dense [0, num_pairs)
  stream i = induction tu0
  stream a = load left[i] @tu0
  stream b = load right[i] @tu0
  stream row_a = load_row table[a] @tu0
  stream row_b = load_row table[b] @tu0
  on tu0.iter: push q_i <- i, q_a <- row_a, q_b <- row_b; token PAIR
queues:
  queue q_i: scalar i64
  queue q_a: row f32
  queue q_b: row f32
execute:
  callback PAIR:
    %i = pop q_i
    %a = pop q_a
    %b = pop q_b
"""

GATHER_ADD_PAIRS = _PAIRS.replace("access:", "output out: f32[num_pairs, dim]\naccess:") + """\
    %y = add %a, %b
    store out[%i] = %y
"""
GATHER_ADD_PAIRS = "program gather_add_pairs\n" + GATHER_ADD_PAIRS

GATHER_DOT = "program gather_dot\n" + _PAIRS.replace("access:", "output out: f32[num_pairs]\naccess:") + """\
    %d = dot %a, %b
    store out[%i] = %d
"""

PAIR_CASES = tuple({"num_rows": c["num_rows"], "dim": c["dim"], "num_pairs": c["num_indices"]} for c in cases.GATHER)
PAIR_BENCH = {"num_rows": 100_000, "dim": 64, "num_pairs": 4096}
PAIRS = (TABLE, TensorSpec("left", I64, ("num_pairs",), Gen.INDEX, "num_rows"),
         TensorSpec("right", I64, ("num_pairs",), Gen.INDEX, "num_rows"))


def _gather(x):
    return {"out": x["table"][x["indices"].long()]}


def _padded(x):
    rows = x["table"][x["indices"]]
    return {"out": torch.where((x["indices"] == cases.PAD).unsqueeze(1), torch.zeros_like(rows), rows)}


TASKS = (
    Task("gather_rows", Group.GATHER, 1, "Gather rows: out[i, :] = table[indices[i], :] (torch.nn.functional.embedding).",
         (TABLE, INDICES), (ROWS_OUT,), _gather, GATHER_ROWS, cases.GATHER, cases.GATHER_BENCH),
    Task("index_select_1d", Group.GATHER, 1, "Gather scalars: out[i] = values[indices[i]] (torch.index_select on a vector).",
         (TensorSpec("values", F32, ("num_rows",)), INDICES), (OutputSpec("out", F32, ("num_indices",), exact=True),),
         lambda x: {"out": x["values"][x["indices"]]}, INDEX_SELECT_1D, cases.GATHER, cases.GATHER_BENCH),
    Task("gather_rows_i32", Group.GATHER, 1, "Gather rows with 32-bit indices: out[i, :] = table[indices[i], :].",
         (TABLE, TensorSpec("indices", I32, ("num_indices",), Gen.INDEX, "num_rows")), (ROWS_OUT,), _gather,
         GATHER_I32, cases.GATHER, cases.GATHER_BENCH),
    Task("gather_padding_idx", Group.GATHER, 2,
         "Embedding with padding_idx=2: out[i, :] = table[indices[i], :], but rows whose index is 2 stay zero.",
         (TABLE, TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows", pad=cases.PAD)), (ROWS_OUT,),
         _padded, GATHER_PADDING, cases.GATHER, cases.GATHER_BENCH),
    Task("gather_relu", Group.GATHER_ELEMENTWISE, 1, "Gather then ReLU: out[i, :] = max(table[indices[i], :], 0).",
         (TABLE, INDICES), (ROWS_OUT,), lambda x: {"out": x["table"][x["indices"]].clamp(min=0)}, GATHER_RELU,
         cases.GATHER, cases.GATHER_BENCH),
    Task("gather_scale", Group.GATHER_ELEMENTWISE, 1,
         "Gather then scale each row: out[i, :] = table[indices[i], :] * scale[i].",
         (TABLE, INDICES, TensorSpec("scale", F32, ("num_indices",), Gen.UNIFORM)), (OutputSpec("out", F32, ("num_indices", "dim")),),
         lambda x: {"out": x["table"][x["indices"]] * x["scale"].unsqueeze(1)}, GATHER_SCALE, cases.GATHER,
         cases.GATHER_BENCH),
    Task("gather_add_pairs", Group.GATHER_ELEMENTWISE, 1,
         "Add two gathered rows of one table: out[i, :] = table[left[i], :] + table[right[i], :].",
         PAIRS, (OutputSpec("out", F32, ("num_pairs", "dim")),),
         lambda x: {"out": x["table"][x["left"]] + x["table"][x["right"]]}, GATHER_ADD_PAIRS, PAIR_CASES, PAIR_BENCH),
    Task("gather_dot", Group.GATHER_ELEMENTWISE, 2,
         "Dot product of two gathered rows (a link-prediction score): out[i] = sum_k table[left[i], k] * table[right[i], k].",
         PAIRS, (OutputSpec("out", F32, ("num_pairs",)),),
         lambda x: {"out": (x["table"][x["left"]] * x["table"][x["right"]]).sum(1)}, GATHER_DOT, PAIR_CASES, PAIR_BENCH),
)
