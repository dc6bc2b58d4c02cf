"""Segment reductions over CSR offsets, and sparse-dense products / GNN message passing built on them."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec, expert_program

F32, I64 = DType.F32, DType.I64
OFFSETS = TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices")
SEG_CASES = tuple({k: c[k] for k in ("dim", "num_indices", "num_offsets")} for c in cases.BAG)
SEG_BENCH = {"dim": 64, "num_indices": 8192, "num_offsets": 513}
GRAPH_CASES = tuple({"num_nodes": c["num_rows"], "dim": c["dim"], "num_edges": c["num_indices"],
                     "num_offsets": c["num_offsets"]} for c in cases.BAG)
GRAPH_BENCH = {"num_nodes": 100_000, "dim": 64, "num_edges": 8192, "num_offsets": 513}

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
         lambda x: {"out": cases.segment_sum(x["values"], x["offsets"])}, expert_program("segment_sum"), SEG_CASES, SEG_BENCH),
    Task("segment_max", Group.SEGMENT, 2, "Segment max of scalars: out[s] = max of values[offsets[s] .. offsets[s+1]) "
         "(0 for an empty segment).", (VALUES, OFFSETS), (OutputSpec("out", F32, ("num_offsets - 1",), exact=True),),
         lambda x: {"out": cases.segment_max(x["values"], x["offsets"])}, expert_program("segment_max"), SEG_CASES, SEG_BENCH),
    Task("segment_mean_rows", Group.SEGMENT, 2, "Segment mean of rows: out[s, :] = mean of x[offsets[s] .. "
         "offsets[s+1], :] (zeros for an empty segment).", (TensorSpec("x", F32, ("num_indices", "dim")), OFFSETS),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),),
         lambda x: {"out": cases.segment_mean(x["x"], x["offsets"])}, expert_program("segment_mean_rows"), SEG_CASES,
         SEG_BENCH),
    Task("spmv_csr", Group.SPMM, 2, f"Sparse matrix times vector: out[v] = sum over edges e of row v of val[e] * "
         f"x[col[e]]. {_CSR_TEXT}", (TensorSpec("x", F32, ("num_nodes",)), COL, VAL, CSR),
         (OutputSpec("out", F32, ("num_offsets - 1",)),),
         lambda x: {"out": cases.segment_sum(x["x"][x["col"]] * x["val"], x["offsets"])}, expert_program("spmv_csr"),
         GRAPH_CASES, GRAPH_BENCH),
    Task("spmm_csr", Group.SPMM, 2, f"Sparse times dense (SpMM): out[v, :] = sum over edges e of row v of val[e] * "
         f"features[col[e], :]. {_CSR_TEXT}", (FEATURES, COL, VAL, CSR),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),), _spmm, expert_program("spmm_csr"), GRAPH_CASES, GRAPH_BENCH),
    Task("gnn_mean_aggregate", Group.SPMM, 2, f"GNN mean aggregation: out[v, :] = mean over edges e of row v of "
         f"features[col[e], :] (zeros without edges). {_CSR_TEXT}", (FEATURES, COL, CSR),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),),
         lambda x: {"out": cases.segment_mean(x["features"][x["col"]], x["offsets"])}, expert_program("gnn_mean_aggregate"),
         GRAPH_CASES, GRAPH_BENCH),
    Task("coo_message_passing", Group.SPMM, 1, "Message passing on a COO edge list: out[dst[e], :] += weight[e] * "
         "features[src[e], :] for every edge e (destinations repeat); out has one row per node.",
         (FEATURES, TensorSpec("src", I64, ("num_edges",), Gen.INDEX, "num_nodes"),
          TensorSpec("dst", I64, ("num_edges",), Gen.INDEX, "num_nodes"),
          TensorSpec("weight", F32, ("num_edges",), Gen.UNIFORM)),
         (OutputSpec("out", F32, ("num_nodes", "dim")),), _coo, expert_program("coo_message_passing"), GRAPH_CASES,
         GRAPH_BENCH),
)
