"""Several tables in one program: one loop nest feeds lookups into every table (as DLRM batches them)."""
from __future__ import annotations

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec, expert_program

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


def _bag_sum(table, indices, offsets):
    return cases.segment_sum(table[indices], offsets)


TASKS = (
    Task("two_table_gather_sum", Group.MULTI_TABLE, 2, "Two tables, one lookup each per item, summed: out[i, :] = "
         "table_a[indices_a[i], :] + table_b[indices_b[i], :].", (TABLE_A, TABLE_B, INDEX_A, INDEX_B),
         (OutputSpec("out", F32, ("num_indices", "dim")),),
         lambda x: {"out": x["table_a"][x["indices_a"]] + x["table_b"][x["indices_b"]]}, expert_program("two_table_gather_sum"),
         GATHER_CASES, GATHER_BENCH),
    Task("three_table_gather", Group.MULTI_TABLE, 2, "Three embedding lookups in one program: out_a[i, :] = "
         "table_a[indices_a[i], :], and the same for b and c.",
         (TABLE_A, TABLE_B, TensorSpec("table_c", F32, ("rows_c", "dim")), INDEX_A, INDEX_B,
          TensorSpec("indices_c", I64, ("num_indices",), Gen.INDEX, "rows_c")),
         tuple(OutputSpec(f"out_{t}", F32, ("num_indices", "dim"), exact=True) for t in "abc"),
         lambda x: {f"out_{t}": x[f"table_{t}"][x[f"indices_{t}"]] for t in "abc"}, expert_program("three_table_gather"),
         GATHER_CASES, GATHER_BENCH),
    Task("two_table_bag_sum", Group.MULTI_TABLE, 3, "Two embedding bags (sum mode) sharing one bag layout: "
         "out_a[b, :] = sum of table_a[indices_a[j], :] and out_b[b, :] = sum of table_b[indices_b[j], :] over "
         "j in offsets[b] .. offsets[b+1] (a bag may be empty).", (TABLE_A, TABLE_B, INDEX_A, INDEX_B, OFFSETS),
         (OutputSpec("out_a", F32, ("num_offsets - 1", "dim")), OutputSpec("out_b", F32, ("num_offsets - 1", "dim"))),
         lambda x: {"out_a": _bag_sum(x["table_a"], x["indices_a"], x["offsets"]),
                    "out_b": _bag_sum(x["table_b"], x["indices_b"], x["offsets"])}, expert_program("two_table_bag_sum"),
         BAG_CASES, BAG_BENCH),
)
