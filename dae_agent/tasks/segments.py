"""Segment reductions over CSR offsets, and sparse-dense products / GNN message passing built on them."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

F32, I64 = DType.F32, DType.I64
OFFSETS = TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices")
SEG_CASES = tuple({k: c[k] for k in ("dim", "num_indices", "num_offsets")} for c in cases.BAG)
SEG_BENCH = {"dim": 64, "num_indices": 8192, "num_offsets": 513}
GRAPH_CASES = tuple({"num_nodes": c["num_rows"], "dim": c["dim"], "num_edges": c["num_indices"],
                     "num_offsets": c["num_offsets"]} for c in cases.BAG)
GRAPH_BENCH = {"num_nodes": 100_000, "dim": 64, "num_edges": 8192, "num_offsets": 513}


def _segment_scalar(name: str, acc: str, finish: str, result: str) -> str:
    return f"""program {name}
param values: f32[num_indices]
param offsets: i64[num_offsets]
output out: f32[num_offsets - 1]
access:
  traversal tu0 = dense [0, num_offsets - 1)
  stream s = induction tu0
  stream lo = load offsets[s] @tu0
  stream s1 = alu add(s, 1) @tu0
  stream hi = load offsets[s1] @tu0
  traversal tu1 = range [lo, hi) in tu0
  stream j = induction tu1
  stream v = load values[j] @tu1
  on tu1.iter: push q_v <- v; token VALUE
  on tu0.end: push q_s <- s; token SEGMENT
queues:
  queue q_v: scalar f32
  queue q_s: scalar i64
execute:
{acc}  callback VALUE:
    %v = pop q_v
    update a, %v
    update n, 1.0
  callback SEGMENT:
    %s = pop q_s
    %t = read a
    %c = read n
{finish}    store out[%s] = %{result}
    reset a
    reset n
"""


SEGMENT_SUM = _segment_scalar("segment_sum", "  acc a: sum f32 init 0.0\n", "", "t").replace(
    "    update n, 1.0\n", "").replace("    %c = read n\n", "").replace("    reset n\n", "")
SEGMENT_MAX = _segment_scalar("segment_max", "  acc a: max f32 init -inf\n  acc n: sum f32 init 0.0\n",
                              "    %e = gt %c, 0.0\n    %y = select %e, %t, 0.0\n", "y")

_CSR = """\
access:
  traversal tu0 = dense [0, num_offsets - 1)
  stream v = induction tu0
  stream lo = load offsets[v] @tu0
  stream v1 = alu add(v, 1) @tu0
  stream hi = load offsets[v1] @tu0
  traversal tu1 = range [lo, hi) in tu0
  stream e = induction tu1
"""

SEGMENT_MEAN_ROWS = """program segment_mean_rows
param x: f32[num_indices, dim]
param offsets: i64[num_offsets]
output out: f32[num_offsets - 1, dim]
""" + _CSR + """\
  stream row = load_row x[e] @tu1
  on tu1.iter: push q_row <- row; token ROW
  on tu0.end: push q_v <- v; token SEGMENT
queues:
  queue q_row: row f32
  queue q_v: scalar i64
execute:
  acc total: sum f32[dim] init 0.0
  acc n: sum f32 init 0.0
  callback ROW:
    %row = pop q_row
    update total, %row
    update n, 1.0
  callback SEGMENT:
    %v = pop q_v
    %t = read total
    %c = read n
    %d = max %c, 1.0
    %m = div %t, %d
    store out[%v] = %m
    reset total
    reset n
"""

SPMV = """program spmv_csr
param x: f32[num_nodes]
param col: i64[num_edges]
param val: f32[num_edges]
param offsets: i64[num_offsets]
output out: f32[num_offsets - 1]
""" + _CSR + """\
  stream c = load col[e] @tu1
  stream a = load val[e] @tu1
  stream xc = load x[c] @tu1
  on tu1.iter: push q_a <- a, q_x <- xc; token EDGE
  on tu0.end: push q_v <- v; token ROW
queues:
  queue q_a: scalar f32
  queue q_x: scalar f32
  queue q_v: scalar i64
execute:
  acc total: sum f32 init 0.0
  callback EDGE:
    %a = pop q_a
    %x = pop q_x
    %p = mul %a, %x
    update total, %p
  callback ROW:
    %v = pop q_v
    %t = read total
    store out[%v] = %t
    reset total
"""

SPMM = """program spmm_csr
param features: f32[num_nodes, dim]
param col: i64[num_edges]
param val: f32[num_edges]
param offsets: i64[num_offsets]
output out: f32[num_offsets - 1, dim]
""" + _CSR + """\
  stream c = load col[e] @tu1
  stream a = load val[e] @tu1
  stream row = load_row features[c] @tu1
  on tu1.iter: push q_a <- a, q_row <- row; token EDGE
  on tu0.end: push q_v <- v; token NODE
queues:
  queue q_a: scalar f32
  queue q_row: row f32
  queue q_v: scalar i64
execute:
  acc total: sum f32[dim] init 0.0
  callback EDGE:
    %a = pop q_a
    %row = pop q_row
    %p = mul %row, %a
    update total, %p
  callback NODE:
    %v = pop q_v
    %t = read total
    store out[%v] = %t
    reset total
"""

GNN_MEAN = """program gnn_mean_aggregate
param features: f32[num_nodes, dim]
param col: i64[num_edges]
param offsets: i64[num_offsets]
output out: f32[num_offsets - 1, dim]
""" + _CSR + """\
  stream c = load col[e] @tu1
  stream row = load_row features[c] @tu1
  on tu1.iter: push q_row <- row; token EDGE
  on tu0.end: push q_v <- v; token NODE
queues:
  queue q_row: row f32
  queue q_v: scalar i64
execute:
  acc total: sum f32[dim] init 0.0
  acc n: sum f32 init 0.0
  callback EDGE:
    %row = pop q_row
    update total, %row
    update n, 1.0
  callback NODE:
    %v = pop q_v
    %t = read total
    %c = read n
    %d = max %c, 1.0
    %m = div %t, %d
    store out[%v] = %m
    reset total
    reset n
"""

COO_MESSAGES = """program coo_message_passing
param features: f32[num_nodes, dim]
param src: i64[num_edges]
param dst: i64[num_edges]
param weight: f32[num_edges]
output out: f32[num_nodes, dim]
access:
  traversal tu0 = dense [0, num_edges)
  stream e = induction tu0
  stream s = load src[e] @tu0
  stream d = load dst[e] @tu0
  stream w = load weight[e] @tu0
  stream row = load_row features[s] @tu0
  on tu0.iter: push q_d <- d, q_w <- w, q_row <- row; token EDGE
queues:
  queue q_d: scalar i64
  queue q_w: scalar f32
  queue q_row: row f32
execute:
  callback EDGE:
    %d = pop q_d
    %w = pop q_w
    %row = pop q_row
    %m = mul %row, %w
    store_add out[%d] += %m
"""

VALUES = TensorSpec("values", F32, ("num_indices",))
COL = TensorSpec("col", I64, ("num_edges",), Gen.INDEX, "num_nodes")
VAL = TensorSpec("val", F32, ("num_edges",), Gen.UNIFORM)
CSR = TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_edges")
FEATURES = TensorSpec("features", F32, ("num_nodes", "dim"))
_CSR_TEXT = "Row v's edges are offsets[v] .. offsets[v+1] (CSR; a row may have no edge)."


def _spmm(x):
    return {"out": cases.segment_sum(x["features"][x["col"]] * x["val"].unsqueeze(1), x["offsets"])}


def _coo(x):
    messages = x["features"][x["src"]] * x["weight"].unsqueeze(1)
    return {"out": torch.zeros_like(x["features"]).index_add_(0, x["dst"], messages)}


TASKS = (
    Task("segment_sum", Group.SEGMENT, 2, "Segment sum of scalars: out[s] = sum of values[offsets[s] .. offsets[s+1]) "
         "(0 for an empty segment).", (VALUES, OFFSETS), (OutputSpec("out", F32, ("num_offsets - 1",)),),
         lambda x: {"out": cases.segment_sum(x["values"], x["offsets"])}, SEGMENT_SUM, SEG_CASES, SEG_BENCH),
    Task("segment_max", Group.SEGMENT, 2, "Segment max of scalars: out[s] = max of values[offsets[s] .. offsets[s+1]) "
         "(0 for an empty segment).", (VALUES, OFFSETS), (OutputSpec("out", F32, ("num_offsets - 1",), exact=True),),
         lambda x: {"out": cases.segment_max(x["values"], x["offsets"])}, SEGMENT_MAX, SEG_CASES, SEG_BENCH),
    Task("segment_mean_rows", Group.SEGMENT, 2, "Segment mean of rows: out[s, :] = mean of x[offsets[s] .. "
         "offsets[s+1], :] (zeros for an empty segment).", (TensorSpec("x", F32, ("num_indices", "dim")), OFFSETS),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),),
         lambda x: {"out": cases.segment_mean(x["x"], x["offsets"])}, SEGMENT_MEAN_ROWS, SEG_CASES, SEG_BENCH),
    Task("spmv_csr", Group.SPMM, 2, f"Sparse matrix times vector: out[v] = sum over edges e of row v of val[e] * "
         f"x[col[e]]. {_CSR_TEXT}", (TensorSpec("x", F32, ("num_nodes",)), COL, VAL, CSR),
         (OutputSpec("out", F32, ("num_offsets - 1",)),),
         lambda x: {"out": cases.segment_sum(x["x"][x["col"]] * x["val"], x["offsets"])}, SPMV, GRAPH_CASES,
         GRAPH_BENCH),
    Task("spmm_csr", Group.SPMM, 2, f"Sparse times dense (SpMM): out[v, :] = sum over edges e of row v of val[e] * "
         f"features[col[e], :]. {_CSR_TEXT}", (FEATURES, COL, VAL, CSR),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),), _spmm, SPMM, GRAPH_CASES, GRAPH_BENCH),
    Task("gnn_mean_aggregate", Group.SPMM, 2, f"GNN mean aggregation: out[v, :] = mean over edges e of row v of "
         f"features[col[e], :] (zeros without edges). {_CSR_TEXT}", (FEATURES, COL, CSR),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),),
         lambda x: {"out": cases.segment_mean(x["features"][x["col"]], x["offsets"])}, GNN_MEAN, GRAPH_CASES,
         GRAPH_BENCH),
    Task("coo_message_passing", Group.SPMM, 1, "Message passing on a COO edge list: out[dst[e], :] += weight[e] * "
         "features[src[e], :] for every edge e (destinations repeat); out has one row per node.",
         (FEATURES, TensorSpec("src", I64, ("num_edges",), Gen.INDEX, "num_nodes"),
          TensorSpec("dst", I64, ("num_edges",), Gen.INDEX, "num_nodes"),
          TensorSpec("weight", F32, ("num_edges",), Gen.UNIFORM)),
         (OutputSpec("out", F32, ("num_nodes", "dim")),), _coo, COO_MESSAGES, GRAPH_CASES, GRAPH_BENCH),
)
