"""Gather / index_select tasks, alone and followed by elementwise work: one dense loop, no state."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec, expert_program

F32, I32, I64 = DType.F32, DType.I32, DType.I64
TABLE = TensorSpec("table", F32, ("num_rows", "dim"))
INDICES = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows")
ROWS_OUT = OutputSpec("out", F32, ("num_indices", "dim"), exact=True)

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
         (TABLE, INDICES), (ROWS_OUT,), _gather, expert_program("gather_rows"), cases.GATHER, cases.GATHER_BENCH),
    Task("index_select_1d", Group.GATHER, 1, "Gather scalars: out[i] = values[indices[i]] (torch.index_select on a vector).",
         (TensorSpec("values", F32, ("num_rows",)), INDICES), (OutputSpec("out", F32, ("num_indices",), exact=True),),
         lambda x: {"out": x["values"][x["indices"]]}, expert_program("index_select_1d"), cases.GATHER, cases.GATHER_BENCH),
    Task("gather_rows_i32", Group.GATHER, 1, "Gather rows with 32-bit indices: out[i, :] = table[indices[i], :].",
         (TABLE, TensorSpec("indices", I32, ("num_indices",), Gen.INDEX, "num_rows")), (ROWS_OUT,), _gather,
         expert_program("gather_rows_i32"), cases.GATHER, cases.GATHER_BENCH),
    Task("gather_padding_idx", Group.GATHER, 2,
         "Embedding with padding_idx=2: out[i, :] = table[indices[i], :], but rows whose index is 2 stay zero.",
         (TABLE, TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows", pad=cases.PAD)), (ROWS_OUT,),
         _padded, expert_program("gather_padding_idx"), cases.GATHER, cases.GATHER_BENCH),
    Task("gather_relu", Group.GATHER_ELEMENTWISE, 1, "Gather then ReLU: out[i, :] = max(table[indices[i], :], 0).",
         (TABLE, INDICES), (ROWS_OUT,), lambda x: {"out": x["table"][x["indices"]].clamp(min=0)}, expert_program("gather_relu"),
         cases.GATHER, cases.GATHER_BENCH),
    Task("gather_scale", Group.GATHER_ELEMENTWISE, 1,
         "Gather then scale each row: out[i, :] = table[indices[i], :] * scale[i].",
         (TABLE, INDICES, TensorSpec("scale", F32, ("num_indices",), Gen.UNIFORM)), (OutputSpec("out", F32, ("num_indices", "dim")),),
         lambda x: {"out": x["table"][x["indices"]] * x["scale"].unsqueeze(1)}, expert_program("gather_scale"), cases.GATHER,
         cases.GATHER_BENCH),
    Task("gather_add_pairs", Group.GATHER_ELEMENTWISE, 1,
         "Add two gathered rows of one table: out[i, :] = table[left[i], :] + table[right[i], :].",
         PAIRS, (OutputSpec("out", F32, ("num_pairs", "dim")),),
         lambda x: {"out": x["table"][x["left"]] + x["table"][x["right"]]}, expert_program("gather_add_pairs"), PAIR_CASES,
         PAIR_BENCH),
    Task("gather_dot", Group.GATHER_ELEMENTWISE, 2,
         "Dot product of two gathered rows (a link-prediction score): out[i] = sum_k table[left[i], k] * table[right[i], k].",
         PAIRS, (OutputSpec("out", F32, ("num_pairs",)),),
         lambda x: {"out": (x["table"][x["left"]] * x["table"][x["right"]]).sum(1)}, expert_program("gather_dot"), PAIR_CASES,
         PAIR_BENCH),
)
