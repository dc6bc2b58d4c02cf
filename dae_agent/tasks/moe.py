"""Mixture-of-experts dispatch (gather tokens into expert slots) and combine (weighted sum of a token's slots),
and several tables looked up in one program."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .spec import Gen, Group, OutputSpec, Task, TensorSpec, expert_program

F32, I64 = DType.F32, DType.I64
EXPERTS = 8
TOKENS = TensorSpec("x", F32, ("num_tokens", "dim"))
TOKEN_OF = TensorSpec("token_of", I64, ("num_slots",), Gen.INDEX, "num_tokens")
DISPATCH_CASES = tuple({"num_tokens": c["num_rows"], "dim": c["dim"], "num_slots": c["num_indices"]}
                       for c in cases.GATHER)
DISPATCH_BENCH = {"num_tokens": 4096, "dim": 64, "num_slots": 8192}
COMBINE_CASES = tuple({"num_slots": c["num_rows"], "dim": c["dim"], "num_indices": c["num_indices"],
                       "num_offsets": c["num_offsets"]} for c in cases.BAG)
COMBINE_BENCH = {"num_slots": 8192, "dim": 64, "num_indices": 8192, "num_offsets": 4097}


def _combine(x):
    rows = x["expert_out"][x["slot"]] * x["weights"].unsqueeze(1)
    return {"out": cases.segment_sum(rows, x["offsets"])}


TASKS = (
    Task("moe_dispatch", Group.MOE, 1, "MoE dispatch: copy each slot's token into the expert buffer, "
         "out[p, :] = x[token_of[p], :] (a token may fill several slots).", (TOKENS, TOKEN_OF),
         (OutputSpec("out", F32, ("num_slots", "dim"), exact=True),), lambda x: {"out": x["x"][x["token_of"]]},
         expert_program("moe_dispatch"), DISPATCH_CASES, DISPATCH_BENCH),
    Task("moe_dispatch_scaled", Group.MOE, 1, "MoE dispatch with the router gate applied: out[p, :] = "
         "x[token_of[p], :] * gate[p].", (TOKENS, TOKEN_OF, TensorSpec("gate", F32, ("num_slots",), Gen.UNIFORM)),
         (OutputSpec("out", F32, ("num_slots", "dim")),),
         lambda x: {"out": x["x"][x["token_of"]] * x["gate"].unsqueeze(1)}, expert_program("moe_dispatch_scaled"),
         DISPATCH_CASES, DISPATCH_BENCH),
    Task("moe_expert_counts", Group.MOE, 1, "MoE load: counts[k] = number of slots p routed to expert k "
         "(expert[p] == k), 8 experts.", (TensorSpec("expert", I64, ("num_slots",), Gen.INDEX, EXPERTS),),
         (OutputSpec("counts", I64, (EXPERTS,), exact=True),),
         lambda x: {"counts": torch.bincount(x["expert"], minlength=EXPERTS)}, expert_program("moe_expert_counts"),
         DISPATCH_CASES, DISPATCH_BENCH),
    Task("moe_combine", Group.MOE, 2, "MoE combine: token t's output is the gate-weighted sum of its expert "
         "outputs, out[t, :] = sum over j in offsets[t] .. offsets[t+1] of weights[j] * expert_out[slot[j], :] "
         "(a token may have no slot).",
         (TensorSpec("expert_out", F32, ("num_slots", "dim")),
          TensorSpec("slot", I64, ("num_indices",), Gen.INDEX, "num_slots"),
          TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices"),
          TensorSpec("weights", F32, ("num_indices",), Gen.UNIFORM)),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),), _combine, expert_program("moe_combine"), COMBINE_CASES,
         COMBINE_BENCH),
)
