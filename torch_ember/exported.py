"""``torch_ember.compile_exported(program)``: the ember passes on a ``torch.export`` program.

Dynamo refuses sparse tensors ("Attempted to wrap sparse Tensor"), so ``torch.compile`` never sees a
``torch.sparse.mm``; ``torch.export`` does capture it. This entry point lowers an exported program's
lookups, sparse @ dense products included, for inference: its graph has no backward, so a call that would
could record gradients is refused. The rest of the graph runs eagerly (Inductor takes no sparse
inputs).
"""
from __future__ import annotations

import torch

from .dynamo_backend import lower_graph
from .fx_passes.sparse_mm import rewrite_sparse_mm
from .options import EmberOptions


class ExportedRegions(torch.nn.Module):
    """The exported program's module with its lookups as DAE regions; call it as the program."""

    def __init__(self, lowered: torch.fx.GraphModule):
        super().__init__()
        self.lowered = lowered

    def forward(self, *args, **kwargs):
        tensors = list(args) + list(kwargs.values()) + list(self.lowered.parameters()) + list(self.lowered.buffers())
        if torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors):
            raise RuntimeError("compile_exported lowers an exported program for inference, but gradients are on and "
                               "an input or parameter requires grad: call it under torch.no_grad() or "
                               "torch.inference_mode(), or train through torch.compile(model, backend='ember')")
        return self.lowered(*args, **kwargs)


def compile_exported(program: torch.export.ExportedProgram, options: dict | None = None) -> ExportedRegions:
    """Lower ``program`` (from ``torch.export.export``) with the ember options (``rest`` must stay eager)."""
    if not isinstance(program, torch.export.ExportedProgram):
        raise TypeError(f"compile_exported takes a torch.export.ExportedProgram, got {type(program).__name__}")
    options = dict(options or {})
    if options.setdefault("rest", "eager") != "eager":
        raise ValueError("an exported program's host ops run eagerly: option 'rest' must be 'eager' here")
    settings = EmberOptions.from_dict(options)
    gm = program.module()
    table_names = {node.name: str(node.target) for node in gm.graph.find_nodes(op="placeholder")}
    return ExportedRegions(lower_graph(rewrite_sparse_mm(gm), settings, table_names, "inference"))
