"""Embedding bag tasks (sum / mean / max, per-sample weights, padding_idx): a range loop per bag and an
accumulator read at the end of each bag."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec, expert_program

F32, I64 = DType.F32, DType.I64
TABLE = TensorSpec("table", F32, ("num_rows", "dim"))
INDICES = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows")
PADDED = TensorSpec("indices", I64, ("num_indices",), Gen.INDEX, "num_rows", pad=cases.PAD)
OFFSETS = TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices")
WEIGHTS = TensorSpec("weights", F32, ("num_indices",), Gen.UNIFORM)
OUT = OutputSpec("out", F32, ("num_offsets - 1", "dim"))
BAG_SIZE = OutputSpec("bag_size", I64, ("num_offsets - 1",), exact=True)


def _bag(x, mode: int, pad: int = -1, weights=None):
    return torch.ops.aten._embedding_bag(x["table"], x["indices"], x["offsets"], False, mode, False, weights,
                                         True, pad)


def _mean(x, pad=-1):
    keep = x["indices"] != pad
    return {"out": _bag(x, 1, pad)[0], "bag_size": cases.segment_count(x["offsets"], keep).long()}


def _argmax(x):
    out, _, bag_size, max_indices = _bag(x, 2)
    return {"out": out, "bag_size": bag_size, "max_indices": max_indices}


def _task(name, group, level, description, inputs, outputs, reference):
    return Task(name, group, level, description, inputs, outputs, reference, expert_program(name), cases.BAG,
                cases.BAG_BENCH)


_BAGS = "Bags are offsets[b] .. offsets[b+1] of indices (include_last_offset=True), and may be empty."
TASKS = (
    _task("bag_sum", Group.BAG_SUM, 2, f"Embedding bag, sum mode: out[b, :] = sum of table[indices[j], :] over "
          f"the bag. {_BAGS} An empty bag gives zeros.", (TABLE, INDICES, OFFSETS), (OUT,),
          lambda x: {"out": _bag(x, 0)[0]}),
    _task("bag_sum_weighted", Group.BAG_SUM, 2, f"Embedding bag, sum mode with per_sample_weights: out[b, :] = sum "
          f"of weights[j] * table[indices[j], :] over the bag. {_BAGS}", (TABLE, INDICES, OFFSETS, WEIGHTS), (OUT,),
          lambda x: {"out": _bag(x, 0, weights=x["weights"])[0]}),
    _task("bag_sum_padding_idx", Group.BAG_SUM, 2, f"Embedding bag, sum mode, padding_idx=2: entries whose index is "
          f"2 are skipped. {_BAGS}", (TABLE, PADDED, OFFSETS), (OUT,), lambda x: {"out": _bag(x, 0, 2)[0]}),
    _task("bag_mean", Group.BAG_MEAN, 2, f"Embedding bag, mean mode: out[b, :] = mean of the bag's rows (0 for an "
          f"empty bag), bag_size[b] = number of entries in the bag. {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OUT, BAG_SIZE), _mean),
    _task("bag_mean_padding_idx", Group.BAG_MEAN, 3, f"Embedding bag, mean mode, padding_idx=2: entries whose index "
          f"is 2 are skipped and not counted; bag_size[b] counts the rest. {_BAGS}", (TABLE, PADDED, OFFSETS),
          (OUT, BAG_SIZE), lambda x: _mean(x, cases.PAD)),
    _task("bag_max", Group.BAG_MAX, 2, f"Embedding bag, max mode: out[b, k] = max over the bag of "
          f"table[indices[j], k], 0 for an empty bag. {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OutputSpec("out", F32, ("num_offsets - 1", "dim"), exact=True),), lambda x: {"out": _bag(x, 2)[0]}),
    _task("bag_min", Group.BAG_MAX, 3, f"Embedding bag, min: out[b, k] = min over the bag of table[indices[j], k], "
          f"0 for an empty bag. {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OutputSpec("out", F32, ("num_offsets - 1", "dim"), exact=True),),
          lambda x: {"out": cases.segment_max(-x["table"][x["indices"]], x["offsets"]).neg() + 0.0}),
    _task("bag_max_argmax", Group.BAG_MAX, 3, f"Embedding bag, max mode as aten._embedding_bag returns it: out "
          f"(max, 0 for an empty bag), bag_size[b] (entries in the bag), max_indices[b, k] (the table row that gave "
          f"out[b, k], 0 for an empty bag). {_BAGS}", (TABLE, INDICES, OFFSETS),
          (OutputSpec("out", F32, ("num_offsets - 1", "dim"), exact=True), BAG_SIZE,
           OutputSpec("max_indices", I64, ("num_offsets - 1", "dim"), exact=True)), _argmax),
)
