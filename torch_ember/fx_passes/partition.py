"""Partition: every matched lookup node becomes one call of the ``ember::region`` custom op; everything
else stays ATen, for Inductor or eager."""
from __future__ import annotations

import operator

import torch
import torch.fx

from ..region_call import RegionCall
from ..region_op import region_op
from .state import LoweringState


def _contiguous(value):
    """A region's outputs are contiguous (``region_op``), whatever layout the op it replaces gives."""
    if isinstance(value, torch.Tensor) and value.layout is torch.strided:
        return value.clone(memory_format=torch.contiguous_format)
    return value


def partition(state: LoweringState) -> LoweringState:
    gm, graph = state.gm, state.gm.graph
    replaced: dict[torch.fx.Node, torch.fx.Node] = {}   # a region's output, for later regions that read it
    for m in state.matches:
        node = m.node
        original = node.meta.get("val")
        args = [replaced.get(a, a) for a in m.args]
        with graph.inserting_after(m.after) if m.after is not None else graph.inserting_before(node):
            region = graph.create_node("call_function", region_op, (RegionCall(m.spec, state.options).to_json(), args),
                                       name=f"ember_{m.spec.name}")
        if isinstance(original, (tuple, list)) or m.more_nodes:
            region.meta["val"], offset = [], 0
            for replaced_node in (node,) + m.more_nodes:
                value = replaced_node.meta.get("val")
                if isinstance(value, (tuple, list)):
                    for user in list(replaced_node.users):
                        assert user.target is operator.getitem, f"{replaced_node} has a non-getitem user {user}"
                        user.args = (region, offset + user.args[1])
                        region.append(user)       # after the region, wherever the replaced node was
                    region.meta["val"] += [_contiguous(v) for v in value]
                    offset += len(value)
                else:                             # one tensor (a batched gather): one output of the region
                    with graph.inserting_after(region):
                        item = graph.call_function(operator.getitem, (region, offset))
                    item.meta["val"] = _contiguous(value)
                    replaced_node.replace_all_uses_with(item)
                    replaced[replaced_node] = item
                    region.meta["val"].append(item.meta["val"])
                    offset += 1
                if replaced_node is not node:
                    graph.erase_node(replaced_node)
        else:
            value = _contiguous(original)
            region.meta["val"] = [value] if value is not None else None
            with graph.inserting_after(region):
                first = graph.call_function(operator.getitem, (region, 0))
            first.meta["val"] = value
            node.replace_all_uses_with(first)
            replaced[node] = first
        if m.absorbs:                 # the epilogue now runs inside the region: its users read the region
            main = first if not isinstance(original, (tuple, list)) else next(
                u for u in region.users if u.args[1] == 0)
            m.absorbs[-1].replace_all_uses_with(main)
            replaced[m.absorbs[-1]] = main   # a later region that read the epilogue's result reads the region
        graph.erase_node(node)
    graph.eliminate_dead_code()  # what fusion folded into a region (gathered rows, their scaling)
    graph.lint()
    gm.recompile()
    return state
