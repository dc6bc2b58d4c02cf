"""``torch_ember.compile_exported(program)``: the ember passes on a ``torch.export`` program.

Dynamo refuses sparse tensors ("Attempted to wrap sparse Tensor"), so ``torch.compile`` never sees a
``torch.sparse.mm``; ``torch.export`` does capture it. This entry point lowers an exported program's
lookups, sparse @ dense products included, and runs the rest of the graph eagerly (Inductor takes no sparse
inputs). A call without gradients runs the program's own module, lowered. A call that needs gradients (an
input or a parameter requires grad, and grad mode is on) goes through AOTAutograd, as ``torch.compile``
does, so the backward's lookups (``a.t() @ grad`` for a sparse product) are lowered too; it is compiled at
the first such call. AOTAutograd's fake tensors refuse CSR and CSC inputs, so training takes COO ones.
"""
from __future__ import annotations

import torch
from torch.export.graph_signature import InputKind, OutputKind
from torch.utils import _pytree as pytree

from .dynamo_backend import ember_backend, lower_graph
from .options import EmberOptions

_COMPRESSED = (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc)


class ExportedRegions(torch.nn.Module):
    """The exported program with its lookups as DAE regions; call it as the program."""

    def __init__(self, program: torch.export.ExportedProgram, options: dict):
        super().__init__()
        self.program, self.options = program, options
        settings = EmberOptions.from_dict(options)
        gm = program.module()
        names = {node.name: str(node.target) for node in gm.graph.find_nodes(op="placeholder")}
        self.inference = lower_graph(gm, settings, names, "inference")
        self._training = None
        self._placeholders = list(program.graph_module.graph.find_nodes(op="placeholder"))

    def forward(self, *args, **kwargs):
        inputs = self._graph_inputs(args, kwargs)
        if not (torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs)):
            return self.inference(*args, **kwargs)
        outputs = self._training_function(inputs)(*inputs)
        return pytree.tree_unflatten(list(outputs), self.program.call_spec.out_spec)

    def _graph_inputs(self, args, kwargs) -> list:
        """The exported graph's placeholders in order: the program's parameters, buffers and constants, and
        the user's inputs flattened as the program was exported."""
        user, spec = pytree.tree_flatten((args, kwargs))
        if spec != self.program.call_spec.in_spec:
            raise TypeError(f"the exported program takes inputs structured as {self.program.call_spec.in_spec}, "
                            f"got {spec}")
        user = iter(user)
        state, constants = self.program.state_dict, self.program.constants
        inputs = []
        for input_spec in self.program.graph_signature.input_specs:
            if input_spec.kind is InputKind.USER_INPUT:
                inputs.append(next(user))
            else:
                inputs.append(state[input_spec.target] if input_spec.target in state else constants[input_spec.target])
        return inputs

    def _training_function(self, inputs: list):
        if self._training is None:
            self._check_trainable(inputs)
            try:
                self._training = ember_backend(self.program.graph_module, inputs, self.options)
            except RuntimeError as error:   # e.g. a sparse layout made inside the graph (PyG's to_sparse_csr)
                raise RuntimeError(f"AOTAutograd could not trace this exported program for training ({error}); "
                                   f"call it under torch.no_grad(), or train through torch.compile") from error
        self._check_shapes(inputs)
        return self._training

    def _check_trainable(self, inputs: list) -> None:
        if any(spec.kind is not OutputKind.USER_OUTPUT for spec in self.program.graph_signature.output_specs):
            raise NotImplementedError("compile_exported trains programs without buffer or input mutations; this "
                                      "one mutates state (call it under torch.no_grad(), or use torch.compile)")
        for node, t in zip(self._placeholders, inputs):
            if isinstance(t, torch.Tensor) and t.layout in _COMPRESSED:
                raise RuntimeError(f"input {node.name} is a {t.layout} tensor, which AOTAutograd cannot trace for "
                                   f"training: pass it as COO (t.to_sparse_coo()), or call under torch.no_grad()")

    def _check_shapes(self, inputs: list) -> None:
        """The training graph was compiled for the exported shapes (the program's own module checks its
        inference calls)."""
        for node, t in zip(self._placeholders, inputs):
            want = node.meta.get("val")
            if isinstance(t, torch.Tensor) and want is not None and tuple(t.shape) != tuple(want.shape):
                raise RuntimeError(f"input {node.name} has shape {tuple(t.shape)}, but the program was exported "
                                   f"for shape {tuple(want.shape)}")


def compile_exported(program: torch.export.ExportedProgram, options: dict | None = None) -> ExportedRegions:
    """Lower ``program`` (from ``torch.export.export``) with the ember options (``rest`` must stay eager)."""
    if not isinstance(program, torch.export.ExportedProgram):
        raise TypeError(f"compile_exported takes a torch.export.ExportedProgram, got {type(program).__name__}")
    options = dict(options or {})
    if options.setdefault("rest", "eager") != "eager":
        raise ValueError("an exported program's host ops run eagerly: option 'rest' must be 'eager' here")
    return ExportedRegions(program, options)
