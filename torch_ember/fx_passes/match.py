"""Match: find the lookup ops the DAE device can take, and record why the others stay on the host."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch.fx

from ..region_spec import RegionSpec
from .registry import LOOKUP_LIKE, REGISTRY
from .registry_base import WRITTEN_AS, node_kwargs

if TYPE_CHECKING:
    from .state import LoweringState


@dataclass(frozen=True)
class RegionMatch:
    node: torch.fx.Node
    spec: RegionSpec
    args: tuple
    more_nodes: tuple = ()      # a batched region also replaces these, its outputs following ``node``'s
    after: torch.fx.Node | None = None   # where a batched region goes (default: where ``node`` is)
    absorbs: tuple = ()         # elementwise nodes after the output, folded in: the last one's users read the region


@dataclass(frozen=True)
class HostDecision:
    node: torch.fx.Node
    reason: str


def user_name(source_name: str) -> str:
    """``L['self']._modules['emb']._parameters['weight']`` -> ``emb.weight``; a top-level argument keeps its
    name, the compiled module itself is ``""``."""
    name = re.sub(r"\._(?:modules|parameters|buffers)\['([^']+)'\]", r".\1", source_name)
    name = re.sub(r"^L\['self'\]$", "", name)                # the compiled module itself
    name = re.sub(r"^L\['[^']+'\]\.", "", name)              # ... and its attribute path
    name = re.sub(r"^G\['([^']+)'\]", r"\1", name)           # a module-level global keeps its variable name
    return re.sub(r"^L\['([^']+)'\]", r"\1", name)


def data_name(node: torch.fx.Node, tensor: str, graph_kind: str) -> str:
    """A region over data that is no parameter: the module that made the op, as the model names it (its
    attribute path), and the graph's node."""
    stack = node.meta.get("nn_module_stack") or node.meta.get("fwd_nn_module_stack") or {}
    module = user_name(list(stack.values())[-1][0]) if stack else ""
    return f"{module or graph_kind}.{tensor}"


_GRADIENT_DEPTH = 8     # nodes between a backward region and the graph's output it is found to feed
# ops a gradient passes through unchanged in meaning on its way to the backward graph's output: views and
# copies of it, and the sum of several contributions to one gradient
_PASS_THROUGH = {"view", "_unsafe_view", "reshape", "clone", "_to_copy", "squeeze", "unsqueeze", "permute",
                 "t", "expand", "add", "contiguous"}


def _passes_gradient(node: torch.fx.Node) -> bool:
    name = getattr(getattr(node.target, "_overloadpacket", None), "__name__", "")
    return node.op == "output" or (node.op == "call_function" and name in _PASS_THROUGH)


def gradient_name(node: torch.fx.Node, names: tuple[str, ...]) -> str | None:
    """The user's name of the tensor whose gradient ``node`` makes (``names``: of each output of the
    backward graph, in order), where its value reaches exactly one of the graph's outputs through views,
    copies and sums of contributions only; else None (a region whose result is transformed further, say by a
    matrix product, makes some other tensor's gradient, not that parameter's)."""
    if not names:
        return None
    reached, frontier = set(), [node]
    for _ in range(_GRADIENT_DEPTH):
        frontier = [user for n in frontier for user in n.users if user not in reached and _passes_gradient(user)]
        reached.update(frontier)
        output = next((n for n in frontier if n.op == "output"), None)
        if output is not None:
            values = output.args[0] if isinstance(output.args[0], (tuple, list)) else (output.args[0],)
            positions = {i for i, value in enumerate(values)
                         if isinstance(value, torch.fx.Node) and (value is node or value in reached)}
            return names[positions.pop()] if len(positions) == 1 and max(positions) < len(names) else None
    return None


def match_regions(state: "LoweringState") -> "LoweringState":
    """Every lookup op the registry lowers becomes a match, every other lookup-like op a host decision. A
    table is named as the user names it (``state.table_names``), a backward region by what it makes the
    gradient of (``gradient_name``), other data by the module and node that make it (``data_name``); a
    backward graph's region whose op is a forward one's form says "(backward)"."""
    devices = ("cuda", "cpu") if state.options.regions == "triton" else ("cpu",)
    table_names, graph_kind = state.table_names, state.graph_kind.value
    matches, host = [], []
    for node in state.gm.graph.nodes:
        if node.op != "call_function":
            continue
        lowering = REGISTRY.get(node.target)
        if lowering is None:
            if node.target in LOOKUP_LIKE:
                host.append(HostDecision(node, "no DAE lowering for this op yet"))
            continue
        kw = node_kwargs(node)
        table = getattr(kw[lowering.table_key], "meta", {}).get("val")
        reason = (f"tensors on {table.device.type}; regions run here on {' or '.join(devices)} tensors"
                  if table is not None and table.device.type not in devices else lowering.check(kw))
        if reason is not None:
            host.append(HostDecision(node, reason))
            continue
        table_arg = kw[lowering.table_key]
        name = (table_names.get(getattr(table_arg, "name", ""))
                or gradient_name(node, state.gradient_names)
                or data_name(node, getattr(table_arg, "name", "?"), graph_kind))
        spec = lowering.spec(kw, name)
        if WRITTEN_AS in node.meta:        # a canonical form of another op: its errors are that op's
            spec = dataclasses.replace(spec, op=node.meta[WRITTEN_AS])
        if graph_kind == "backward" and "backward" not in spec.name:    # a forward op's form, run for the gradient
            spec = dataclasses.replace(spec, table=f"{name} (backward)")
        matches.append(RegionMatch(node, spec, tuple(lowering.tensor_args(kw))))
    return dataclasses.replace(state, matches=tuple(matches), host=tuple(host))
