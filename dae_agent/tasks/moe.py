"""Mixture-of-experts dispatch (gather tokens into expert slots) and combine (weighted sum of a token's slots),
and several tables looked up in one program."""
from __future__ import annotations

import torch

from dae_emulator.program import DType

from . import cases
from .bags import bag_program
from .spec import Gen, Group, OutputSpec, Task, TensorSpec

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

_DISPATCH = """\
param x: f32[num_tokens, dim]
param token_of: i64[num_slots]
{extra}output out: f32[num_slots, dim]
access:
  traversal tu0 = dense [0, num_slots)
  stream p = induction tu0
  stream t = load token_of[p] @tu0
  stream row = load_row x[t] @tu0
{streams}  on tu0.iter: push q_p <- p, q_row <- row{pushes}; token SLOT
queues:
  queue q_p: scalar i64
  queue q_row: row f32
{queues}execute:
  callback SLOT:
    %p = pop q_p
    %row = pop q_row
{body}"""
MOE_DISPATCH = "program moe_dispatch\n" + _DISPATCH.format(
    extra="", streams="", pushes="", queues="", body="    store out[%p] = %row\n")
MOE_DISPATCH_SCALED = "program moe_dispatch_scaled\n" + _DISPATCH.format(
    extra="param gate: f32[num_slots]\n", streams="  stream g = load gate[p] @tu0\n", pushes=", q_g <- g",
    queues="  queue q_g: scalar f32\n", body="    %g = pop q_g\n    %y = mul %row, %g\n    store out[%p] = %y\n")

MOE_EXPERT_COUNTS = """program moe_expert_counts
param expert: i64[num_slots]
output counts: i64[8]
access:
  traversal tu0 = dense [0, num_slots)
  stream p = induction tu0
  stream k = load expert[p] @tu0
  on tu0.iter: push q_k <- k; token SLOT
queues:
  queue q_k: scalar i64
execute:
  callback SLOT:
    %k = pop q_k
    store_add counts[%k] += 1
"""

MOE_COMBINE = bag_program(
    "moe_combine", "param weights: f32[num_indices]\noutput out: f32[num_offsets - 1, dim]\n",
    "  stream w = load weights[j] @tu1\n", "on tu1.iter: push q_row <- row, q_w <- w; token ROW",
    "  queue q_w: scalar f32\n", """\
  acc total: sum f32[dim] init 0.0
  callback ROW:
    %row = pop q_row
    %w = pop q_w
    %x = mul %row, %w
    update total, %x
  callback BAG:
    %b = pop q_b
    %s = read total
    store out[%b] = %s
    reset total
""").replace("table", "expert_out").replace("param indices:", "param slot:").replace(
    "load indices[", "load slot[").replace("num_rows", "num_slots")


def _combine(x):
    rows = x["expert_out"][x["slot"]] * x["weights"].unsqueeze(1)
    return {"out": cases.segment_sum(rows, x["offsets"])}


TASKS = (
    Task("moe_dispatch", Group.MOE, 1, "MoE dispatch: copy each slot's token into the expert buffer, "
         "out[p, :] = x[token_of[p], :] (a token may fill several slots).", (TOKENS, TOKEN_OF),
         (OutputSpec("out", F32, ("num_slots", "dim"), exact=True),), lambda x: {"out": x["x"][x["token_of"]]},
         MOE_DISPATCH, DISPATCH_CASES, DISPATCH_BENCH),
    Task("moe_dispatch_scaled", Group.MOE, 1, "MoE dispatch with the router gate applied: out[p, :] = "
         "x[token_of[p], :] * gate[p].", (TOKENS, TOKEN_OF, TensorSpec("gate", F32, ("num_slots",), Gen.UNIFORM)),
         (OutputSpec("out", F32, ("num_slots", "dim")),),
         lambda x: {"out": x["x"][x["token_of"]] * x["gate"].unsqueeze(1)}, MOE_DISPATCH_SCALED, DISPATCH_CASES,
         DISPATCH_BENCH),
    Task("moe_expert_counts", Group.MOE, 1, "MoE load: counts[k] = number of slots p routed to expert k "
         "(expert[p] == k), 8 experts.", (TensorSpec("expert", I64, ("num_slots",), Gen.INDEX, EXPERTS),),
         (OutputSpec("counts", I64, (EXPERTS,), exact=True),),
         lambda x: {"counts": torch.bincount(x["expert"], minlength=EXPERTS)}, MOE_EXPERT_COUNTS, DISPATCH_CASES,
         DISPATCH_BENCH),
    Task("moe_combine", Group.MOE, 2, "MoE combine: token t's output is the gate-weighted sum of its expert "
         "outputs, out[t, :] = sum over j in offsets[t] .. offsets[t+1] of weights[j] * expert_out[slot[j], :] "
         "(a token may have no slot).",
         (TensorSpec("expert_out", F32, ("num_slots", "dim")),
          TensorSpec("slot", I64, ("num_indices",), Gen.INDEX, "num_slots"),
          TensorSpec("offsets", I64, ("num_offsets",), Gen.OFFSETS, "num_indices"),
          TensorSpec("weights", F32, ("num_indices",), Gen.UNIFORM)),
         (OutputSpec("out", F32, ("num_offsets - 1", "dim")),), _combine, MOE_COMBINE, COMBINE_CASES, COMBINE_BENCH),
)
