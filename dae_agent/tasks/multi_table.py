"""Several tables in one program: one loop nest feeds lookups into every table (as DLRM batches them)."""
from __future__ import annotations

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

F32, I64 = DType.F32, DType.I64
TABLE_A = TensorSpec("table_a", F32, ("rows_a", "dim"))
TABLE_B = TensorSpec("table_b", F32, ("rows_b", "dim"))
INDEX_A = TensorSpec("indices_a", I64, ("num_indices",), Gen.INDEX, "rows_a")
INDEX_B = TensorSpec("indices_b", I64, ("num_indices",), Gen.INDEX, "rows_b")
OFFSETS = TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices")
GATHER_CASES = tuple({"rows_a": c["num_rows"], "rows_b": c["num_rows"] + 3, "rows_c": c["num_rows"] + 1,
                      "dim": c["dim"], "num_indices": c["num_indices"]} for c in cases.GATHER)
GATHER_BENCH = {"rows_a": 100_000, "rows_b": 50_000, "rows_c": 20_000, "dim": 64, "num_indices": 4096}
BAG_CASES = tuple({"rows_a": c["num_rows"], "rows_b": c["num_rows"] + 3, "dim": c["dim"],
                   "num_indices": c["num_indices"], "num_offsets": c["num_offsets"]} for c in cases.BAG)
BAG_BENCH = {"rows_a": 100_000, "rows_b": 50_000, "dim": 64, "num_indices": 8192, "num_offsets": 513}

TWO_TABLE_GATHER_SUM = """program two_table_gather_sum
param table_a: f32[rows_a, dim]
param table_b: f32[rows_b, dim]
param indices_a: i64[num_indices]
param indices_b: i64[num_indices]
output out: f32[num_indices, dim]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream ra = load indices_a[i] @tu0
  stream rb = load indices_b[i] @tu0
  stream row_a = load_row table_a[ra] @tu0
  stream row_b = load_row table_b[rb] @tu0
  on tu0.iter: push q_i <- i, q_a <- row_a, q_b <- row_b; token ITEM
queues:
  queue q_i: scalar i64
  queue q_a: row f32
  queue q_b: row f32
execute:
  callback ITEM:
    %i = pop q_i
    %a = pop q_a
    %b = pop q_b
    %s = add %a, %b
    store out[%i] = %s
"""

THREE_TABLE_GATHER = """program three_table_gather
param table_a: f32[rows_a, dim]
param table_b: f32[rows_b, dim]
param table_c: f32[rows_c, dim]
param indices_a: i64[num_indices]
param indices_b: i64[num_indices]
param indices_c: i64[num_indices]
output out_a: f32[num_indices, dim]
output out_b: f32[num_indices, dim]
output out_c: f32[num_indices, dim]
access:
  traversal tu0 = dense [0, num_indices)
  stream i = induction tu0
  stream ra = load indices_a[i] @tu0
  stream rb = load indices_b[i] @tu0
  stream rc = load indices_c[i] @tu0
  stream row_a = load_row table_a[ra] @tu0
  stream row_b = load_row table_b[rb] @tu0
  stream row_c = load_row table_c[rc] @tu0
  on tu0.iter: push q_i <- i, q_a <- row_a, q_b <- row_b, q_c <- row_c; token ITEM
queues:
  queue q_i: scalar i64
  queue q_a: row f32
  queue q_b: row f32
  queue q_c: row f32
execute:
  callback ITEM:
    %i = pop q_i
    %a = pop q_a
    %b = pop q_b
    %c = pop q_c
    store out_a[%i] = %a
    store out_b[%i] = %b
    store out_c[%i] = %c
"""

TWO_TABLE_BAG_SUM = """program two_table_bag_sum
param table_a: f32[rows_a, dim]
param table_b: f32[rows_b, dim]
param indices_a: i64[num_indices]
param indices_b: i64[num_indices]
param offsets: i64[num_offsets]
output out_a: f32[num_offsets - 1, dim]
output out_b: f32[num_offsets - 1, dim]
access:
  traversal tu0 = dense [0, num_offsets - 1)
  stream b = induction tu0
  stream lo = load offsets[b] @tu0
  stream b1 = alu add(b, 1) @tu0
  stream hi = load offsets[b1] @tu0
  traversal tu1 = range [lo, hi) in tu0
  stream j = induction tu1
  stream ra = load indices_a[j] @tu1
  stream rb = load indices_b[j] @tu1
  stream row_a = load_row table_a[ra] @tu1
  stream row_b = load_row table_b[rb] @tu1
  on tu1.iter: push q_a <- row_a, q_b <- row_b; token ROW
  on tu0.end: push q_bag <- b; token BAG
queues:
  queue q_a: row f32
  queue q_b: row f32
  queue q_bag: scalar i64
execute:
  acc sum_a: sum f32[dim] init 0.0
  acc sum_b: sum f32[dim] init 0.0
  callback ROW:
    %a = pop q_a
    %b = pop q_b
    update sum_a, %a
    update sum_b, %b
  callback BAG:
    %bag = pop q_bag
    %sa = read sum_a
    %sb = read sum_b
    store out_a[%bag] = %sa
    store out_b[%bag] = %sb
    reset sum_a
    reset sum_b
"""


def _bag_sum(table, indices, offsets):
    return cases.segment_sum(table[indices], offsets)


TASKS = (
    Task("two_table_gather_sum", Group.MULTI_TABLE, 2, "Two tables, one lookup each per item, summed: out[i, :] = "
         "table_a[indices_a[i], :] + table_b[indices_b[i], :].", (TABLE_A, TABLE_B, INDEX_A, INDEX_B),
         (OutputSpec("out", F32, ("num_indices", "dim")),),
         lambda x: {"out": x["table_a"][x["indices_a"]] + x["table_b"][x["indices_b"]]}, TWO_TABLE_GATHER_SUM,
         GATHER_CASES, GATHER_BENCH),
    Task("three_table_gather", Group.MULTI_TABLE, 2, "Three embedding lookups in one program: out_a[i, :] = "
         "table_a[indices_a[i], :], and the same for b and c.",
         (TABLE_A, TABLE_B, TensorSpec("table_c", F32, ("rows_c", "dim")), INDEX_A, INDEX_B,
          TensorSpec("indices_c", I64, ("num_indices",), Gen.INDEX, "rows_c")),
         tuple(OutputSpec(f"out_{t}", F32, ("num_indices", "dim"), exact=True) for t in "abc"),
         lambda x: {f"out_{t}": x[f"table_{t}"][x[f"indices_{t}"]] for t in "abc"}, THREE_TABLE_GATHER,
         GATHER_CASES, GATHER_BENCH),
    Task("two_table_bag_sum", Group.MULTI_TABLE, 3, "Two embedding bags (sum mode) sharing one bag layout: "
         "out_a[b, :] = sum of table_a[indices_a[j], :] and out_b[b, :] = sum of table_b[indices_b[j], :] over "
         "j in offsets[b] .. offsets[b+1] (a bag may be empty).", (TABLE_A, TABLE_B, INDEX_A, INDEX_B, OFFSETS),
         (OutputSpec("out_a", F32, ("num_offsets - 1", "dim")), OutputSpec("out_b", F32, ("num_offsets - 1", "dim"))),
         lambda x: {"out_a": _bag_sum(x["table_a"], x["indices_a"], x["offsets"]),
                    "out_b": _bag_sum(x["table_b"], x["indices_b"], x["offsets"])}, TWO_TABLE_BAG_SUM,
         BAG_CASES, BAG_BENCH),
)
