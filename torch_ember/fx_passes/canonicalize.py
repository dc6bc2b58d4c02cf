"""Canonicalize: give every lookup node its arguments by name, defaults filled in, so matching reads one
form whatever way the call was written."""
from __future__ import annotations

import torch.fx
from torch.fx.operator_schemas import normalize_function

from .registry import REGISTRY


def canonicalize(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in REGISTRY:
            normalized = normalize_function(node.target, node.args, node.kwargs, normalize_to_only_use_kwargs=True)
            node.args, node.kwargs = (), dict(normalized.kwargs)
    gm.recompile()
    return gm
