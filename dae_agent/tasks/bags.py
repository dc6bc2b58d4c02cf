"""Embedding bag tasks (sum / mean / max, per-sample weights, padding_idx): a range loop per bag and an
accumulator read at the end of each bag."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

F32, I64 = DType.F32, DType.I64
TABLE = TensorSpec("table", F32, ("num_rows", "dim"))
INDICES = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows")
PADDED = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows", pad=cases.PAD)
OFFSETS = TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices")
WEIGHTS = TensorSpec("weights", F32, ("num_indices",), Gen.UNIFORM)
OUT = OutputSpec("out", F32, ("num_offsets - 1", "dim"))
BAG_SIZE = OutputSpec("bag_size", I64, ("num_offsets - 1",), exact=True)


def bag_program(name: str, params: str, row_streams: str, row_rule: str, queues: str, execute: str) -> str:
    """The shared skeleton: bags over ``offsets``, rows over ``indices``; the parts that differ filled in."""
    return f"""program {name}
param table: f32[num_rows, dim]
param indices: i64[num_indices]
param offsets: i64[num_offsets]
{params}access:
  traversal tu0 = dense [0, num_offsets - 1)
  stream b = induction tu0
  stream lo = load offsets[b] @tu0
  stream b1 = alu add(b, 1) @tu0
  stream hi = load offsets[b1] @tu0
  traversal tu1 = range [lo, hi) in tu0
  stream j = induction tu1
  stream r = load indices[j] @tu1
  stream row = load_row table[r] @tu1
{row_streams}  {row_rule}
  on tu0.end: push q_b <- b; token BAG
queues:
  queue q_b: scalar i64
  queue q_row: row f32
{queues}execute:
{execute}"""


_SUM_EXEC = """\
  acc total: sum f32[dim] init 0.0
  callback ROW:
    %row = pop q_row
    update total, %row
  callback BAG:
    %b = pop q_b
    %s = read total
    store out[%b] = %s
    reset total
"""
BAG_SUM = bag_program("bag_sum", "output out: f32[num_offsets - 1, dim]\n", "",
                      "on tu1.iter: push q_row <- row; token ROW", "", _SUM_EXEC)
BAG_SUM_PAD = bag_program("bag_sum_padding_idx", "output out: f32[num_offsets - 1, dim]\n",
                          "  stream keep = alu ne(r, 2) @tu1\n",
                          "on tu1.iter when keep: push q_row <- row; token ROW", "", _SUM_EXEC)
BAG_SUM_WEIGHTED = bag_program(
    "bag_sum_weighted", "param weights: f32[num_indices]\noutput out: f32[num_offsets - 1, dim]\n",
    "  stream w = load weights[j] @tu1\n", "on tu1.iter: push q_row <- row, q_w <- w; token ROW",
    "  queue q_w: scalar f32\n", _SUM_EXEC.replace("    update total, %row\n",
                                                   "    %w = pop q_w\n    %x = mul %row, %w\n    update total, %x\n"))

_MEAN_EXEC = """\
  acc total: sum f32[dim] init 0.0
  acc count: sum f32 init 0.0
  callback ROW:
    %row = pop q_row
    update total, %row
    update count, 1.0
  callback BAG:
    %b = pop q_b
    %s = read total
    %n = read count
    %d = max %n, 1.0
    %m = div %s, %d
    store out[%b] = %m
    store bag_size[%b] = %n
    reset total
    reset count
"""
_MEAN_PARAMS = "output out: f32[num_offsets - 1, dim]\noutput bag_size: i64[num_offsets - 1]\n"
BAG_MEAN = bag_program("bag_mean", _MEAN_PARAMS, "", "on tu1.iter: push q_row <- row; token ROW", "", _MEAN_EXEC)
BAG_MEAN_PAD = bag_program("bag_mean_padding_idx", _MEAN_PARAMS, "  stream keep = alu ne(r, 2) @tu1\n",
                           "on tu1.iter when keep: push q_row <- row; token ROW", "", _MEAN_EXEC)

_MAX_EXEC = """\
  acc best: max f32[dim] init -inf
  acc count: sum f32 init 0.0
  callback ROW:
    %row = pop q_row
    update best, %row
    update count, 1.0
  callback BAG:
    %b = pop q_b
    %m = read best
    %n = read count
    %nonempty = gt %n, 0.0
    %y = select %nonempty, %m, 0.0
    store out[%b] = %y
    reset best
    reset count
"""
BAG_MAX = bag_program("bag_max", "output out: f32[num_offsets - 1, dim]\n", "",
                      "on tu1.iter: push q_row <- row; token ROW", "", _MAX_EXEC)
BAG_MIN = bag_program("bag_min", "output out: f32[num_offsets - 1, dim]\n", "",
                      "on tu1.iter: push q_row <- row; token ROW", "", _MAX_EXEC.replace(
                          "    update best, %row\n", "    %neg = mul %row, -1.0\n    update best, %neg\n").replace(
                          "    store out[%b] = %y\n", "    %z = mul %y, -1.0\n    store out[%b] = %z\n"))
BAG_MAX_ARGMAX = bag_program(
    "bag_max_argmax",
    "output out: f32[num_offsets - 1, dim]\noutput bag_size: i64[num_offsets - 1]\n"
    "output max_indices: i64[num_offsets - 1, dim]\n", "",
    "on tu1.iter: push q_row <- row, q_r <- r; token ROW", "  queue q_r: scalar i64\n",
    _MAX_EXEC.replace("init -inf", "init -inf arg 0").replace(
        "    update best, %row\n", "    %r = pop q_r\n    update best, %row, %r\n").replace(
        "    store out[%b] = %y\n", "    store out[%b] = %y\n    store bag_size[%b] = %n\n"
        "    %arg = read_arg best\n    store max_indices[%b] = %arg\n"))


def _bag(x, mode: int, pad: int = -1, weights=None):
    return torch.ops.aten._embedding_bag(x["table"], x["indices"], x["offsets"], False, mode, False, weights,
                                         True, pad)


def _mean(x, pad=-1):
    keep = x["indices"] != pad
    return {"out": _bag(x, 1, pad)[0], "bag_size": cases.segment_count(x["offsets"], keep).long()}


def _argmax(x):
    out, _, bag_size, max_indices = _bag(x, 2)
    return {"out": out, "bag_size": bag_size, "max_indices": max_indices}


def _task(name, group, level, description, inputs, outputs, reference, expert):
    return Task(name, group, level, description, inputs, outputs, reference, expert, cases.BAG, cases.BAG_BENCH)


_BAGS = "Bags are offsets[b] .. offsets[b+1] of indices (include_last_offset=True), and may be empty."
TASKS = (
    _task("bag_sum", Group.BAG_SUM, 2, f"Embedding bag, sum mode: out[b, :] = sum of table[indices[j], :] over "
          f"the bag. {_BAGS} An empty bag gives zeros.", (TABLE, INDICES, OFFSETS), (OUT,),
          lambda x: {"out": _bag(x, 0)[0]}, BAG_SUM),
    _task("bag_sum_weighted", Group.BAG_SUM, 2, f"Embedding bag, sum mode with per_sample_weights: out[b, :] = sum "
          f"of weights[j] * table[indices[j], :] over the bag. {_BAGS}", (TABLE, INDICES, OFFSETS, WEIGHTS), (OUT,),
          lambda x: {"out": _bag(x, 0, weights=x["weights"])[0]}, BAG_SUM_WEIGHTED),
    _task("bag_sum_padding_idx", Group.BAG_SUM, 2, f"Embedding bag, sum mode, padding_idx=2: entries whose index is "
          f"2 are skipped. {_BAGS}", (TABLE, PADDED, OFFSETS), (OUT,), lambda x: {"out": _bag(x, 0, 2)[0]}, BAG_SUM_PAD),
    _task("bag_mean", Group.BAG_MEAN, 2, f"Embedding bag, mean mode: out[b, :] = mean of the bag's rows (0 for an "
          f"empty bag), bag_size[b] = number of entries in the bag. {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OUT, BAG_SIZE), _mean, BAG_MEAN),
    _task("bag_mean_padding_idx", Group.BAG_MEAN, 3, f"Embedding bag, mean mode, padding_idx=2: entries whose index "
          f"is 2 are skipped and not counted; bag_size[b] counts the rest. {_BAGS}", (TABLE, PADDED, OFFSETS),
          (OUT, BAG_SIZE), lambda x: _mean(x, cases.PAD), BAG_MEAN_PAD),
    _task("bag_max", Group.BAG_MAX, 2, f"Embedding bag, max mode: out[b, k] = max over the bag of "
          f"table[indices[j], k], 0 for an empty bag. {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OutputSpec("out", F32, ("num_offsets - 1", "dim"), exact=True),), lambda x: {"out": _bag(x, 2)[0]}, BAG_MAX),
    _task("bag_min", Group.BAG_MAX, 3, f"Embedding bag, min: out[b, k] = min over the bag of table[indices[j], k], "
          f"0 for an empty bag. {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OutputSpec("out", F32, ("num_offsets - 1", "dim"), exact=True),),
          lambda x: {"out": cases.segment_max(-x["table"][x["indices"]], x["offsets"]).neg() + 0.0}, BAG_MIN),
    _task("bag_max_argmax", Group.BAG_MAX, 3, f"Embedding bag, max mode as aten._embedding_bag returns it: out "
          f"(max, 0 for an empty bag), bag_size[b] (entries in the bag), max_indices[b, k] (the table row that gave "
          f"out[b, k], 0 for an empty bag). {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OutputSpec("out", F32, ("num_offsets - 1", "dim"), exact=True), BAG_SIZE,
           OutputSpec("max_indices", I64, ("num_offsets - 1", "dim"), exact=True)), _argmax, BAG_MAX_ARGMAX),
)
