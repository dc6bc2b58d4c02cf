"""``torch_ember.compile_exported(program)``: the ember passes on a ``torch.export`` program.

Dynamo refuses sparse tensors ("Attempted to wrap sparse Tensor"), so ``torch.compile`` never sees a
``torch.sparse.mm``; ``torch.export`` does capture it. This entry point lowers an exported program's
lookups, sparse @ dense products included, and runs the rest of the graph eagerly (Inductor takes no sparse
inputs). A call without gradients runs the program's own module, lowered. A call that needs gradients (an
input or a parameter requires grad, and grad mode is on) goes through AOTAutograd, as ``torch.compile``
does, so the backward's lookups (``a.t() @ grad`` for a sparse product) are lowered too; it is compiled at
the first such call. AOTAutograd's fake tensors refuse compressed sparse inputs, so for training a CSR
input is passed as its three dense parts (row pointers, column indices, values), and its products with
dense matrices become bags over them before AOTAutograd traces the program; CSC and blocked layouts are
refused, as are CSR inputs whose values need a gradient (pass those as COO). A CSR matrix the graph
converts from a COO input (PyTorch Geometric's ``spmm``) is traced as the COO one.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch.export.graph_signature import InputKind, OutputKind
from torch.utils import _pytree as pytree

from .dynamo_backend import USER_NAME, Observer, ember_backend, lower_graph
from .fx_passes import GraphKind
from .fx_passes.sparse_mm import csr_bag, per_row_mean, product_operands
from .options import EmberOptions

_REFUSED_FOR_TRAINING = (torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc)


class ExportedRegions(torch.nn.Module):
    """The exported program with its lookups as DAE regions; call it as the program."""

    def __init__(self, program: torch.export.ExportedProgram, options: dict, observer: Observer | None = None):
        super().__init__()
        self.program, self.options, self._observer = program, options, observer
        settings = EmberOptions.from_dict(options)
        # functional, as the graphs AOTAutograd hands the backend: ``index_put_`` -> ``index_put``
        gm = program.run_decompositions({}).module()
        # the user's names: an input's, and a parameter's or buffer's path in the module ("user.weight")
        names = {node.name: str(node.target)
                 for op in ("placeholder", "get_attr") for node in gm.graph.find_nodes(op=op)}
        self.inference = lower_graph(gm, settings, names, GraphKind.INFERENCE, observer=observer)
        # the training function per input shapes: AOTAutograd traces static shapes, so a program exported with
        # dynamic ones gets one per shape it is trained at
        self._training: dict[tuple, Callable] = {}
        self._csr_inputs, self._coalesced_inputs = (), ()
        self._placeholders = list(program.graph_module.graph.find_nodes(op="placeholder"))
        # a lifted placeholder's path in the module ("p_user_weight": "user.weight"), for the training graphs
        self._module_paths = {spec.arg.name: spec.target for spec in program.graph_signature.input_specs
                              if spec.kind is not InputKind.USER_INPUT and spec.target}

    def forward(self, *args, **kwargs):
        inputs = self._graph_inputs(args, kwargs)
        if not (torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs)):
            return self.inference(*args, **kwargs)
        training = self._training_function(inputs)
        inputs = [t.coalesce() if k in self._coalesced_inputs else t for k, t in enumerate(inputs)]
        outputs = training(*_unpacked(inputs, self._csr_inputs))
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
        if not self._training:
            self._check_trainable(inputs)
            self._csr_inputs = tuple(k for k, t in enumerate(inputs)
                                     if isinstance(t, torch.Tensor) and t.layout is torch.sparse_csr)
        self._check_shapes(inputs)
        shapes = tuple(tuple(t.shape) if isinstance(t, torch.Tensor) else None for t in inputs)
        if shapes not in self._training:
            gm, coalesce = _trainable_graph(self.program.graph_module, self._placeholders, self._csr_inputs)
            for node in gm.graph.find_nodes(op="placeholder"):
                if node.name in self._module_paths:
                    node.meta[USER_NAME] = self._module_paths[node.name]
            self._coalesced_inputs = tuple(k for k, node in enumerate(self._placeholders) if node.name in coalesce)
            try:
                self._training[shapes] = ember_backend(gm, _unpacked(inputs, self._csr_inputs), self.options,
                                                       observer=self._observer)
            except RuntimeError as error:   # e.g. a sparse layout made inside the graph (PyG's to_sparse_csr)
                raise RuntimeError(f"AOTAutograd could not trace this exported program for training ({error}); "
                                   f"call it under torch.no_grad(), or train through torch.compile") from error
        for k in self._csr_inputs:
            if not (isinstance(inputs[k], torch.Tensor) and inputs[k].layout is torch.sparse_csr):
                raise RuntimeError(f"input {self._placeholders[k].name} was a sparse_csr tensor when this program "
                                   f"was compiled for training; it must stay one")
        return self._training[shapes]

    def _check_trainable(self, inputs: list) -> None:
        if any(spec.kind is not OutputKind.USER_OUTPUT for spec in self.program.graph_signature.output_specs):
            raise NotImplementedError("compile_exported trains programs without buffer or input mutations; this "
                                      "one mutates state (call it under torch.no_grad(), or use torch.compile)")
        for node, t in zip(self._placeholders, inputs):
            if not isinstance(t, torch.Tensor):
                continue
            if t.layout in _REFUSED_FOR_TRAINING or (t.layout is torch.sparse_csr and t.requires_grad):
                what = f"a {t.layout} tensor" + (" whose values need a gradient" if t.requires_grad else "")
                raise RuntimeError(f"input {node.name} is {what}, which AOTAutograd cannot trace for training: "
                                   f"pass it as COO (t.to_sparse_coo()), or call under torch.no_grad()")

    def _check_shapes(self, inputs: list) -> None:
        """Shapes the program was exported for: a static size as it was, a dynamic one within its range (the
        program's own module checks its inference calls)."""
        ranges = self.program.range_constraints
        for node, t in zip(self._placeholders, inputs):
            want = node.meta.get("val")
            if not isinstance(t, torch.Tensor) or want is None:
                continue
            fits = t.dim() == want.dim() and all(
                got == size if isinstance(size, int) else _within(got, ranges.get(size.node.expr))
                for got, size in zip(t.shape, want.shape))
            if not fits:
                shown = ", ".join(str(size) if isinstance(size, int) else _range_text(ranges.get(size.node.expr))
                                  for size in want.shape)
                raise RuntimeError(f"input {node.name} has shape {tuple(t.shape)}, but the program was exported "
                                   f"for shape ({shown})")


def _within(size: int, bounds) -> bool:
    return bounds is None or bounds.lower <= size <= bounds.upper


def _range_text(bounds) -> str:
    """A dynamic size as the export allows it: ``2..64``."""
    return "any" if bounds is None else f"{bounds.lower}..{bounds.upper}"


def _unpacked(inputs: list, csr_inputs: tuple[int, ...]) -> list:
    """The inputs with each CSR tensor at ``csr_inputs`` replaced by its row pointers, columns and values
    (copies: the parts are views of the sparse tensor, which AOTAutograd would follow back to it)."""
    flat = []
    for k, t in enumerate(inputs):
        flat += [t.crow_indices().clone(), t.col_indices().clone(), t.values().clone()] if k in csr_inputs else [t]
    return flat


def _adder(graph: torch.fx.Graph, anchor: torch.fx.Node):
    """``add(target, *args, **kwargs)``: a new call node placed before ``anchor``."""
    def add(target, *args, **kwargs):
        with graph.inserting_before(anchor):
            return graph.call_function(target, args, kwargs)
    return add


def _products_of_converted_coo(gm: torch.fx.GraphModule) -> set[str]:
    """A product with a CSR matrix the graph converts from a COO one (``to_sparse_csr``, as PyTorch
    Geometric's ``spmm`` does) takes the COO one itself, a layout AOTAutograd can trace: a sum as it is, a
    mean (SAGEConv's) as the sum over each row's entry count, when the COO matrix is an input the call
    coalesces (the conversion counts coalesced entries). Returns the inputs to coalesce."""
    coalesce = set()
    for node in list(gm.graph.nodes):
        operands = product_operands(node)
        if operands is None:
            continue
        sparse, dense, reduce = operands
        if not (sparse.op == "call_function" and sparse.target is torch.ops.aten.to_sparse_csr.default
                and len(sparse.args) == 1 and getattr(sparse.args[0].meta.get("val"), "layout", None) is torch.sparse_coo):
            continue
        coo = sparse.args[0]
        if reduce == "sum":
            node.replace_input_with(sparse, coo)
        elif coo.op == "placeholder":
            node.replace_all_uses_with(_mean_over_rows(_adder(gm.graph, node), coo, dense))
            gm.graph.erase_node(node)
            coalesce.add(coo.name)
    return coalesce


def _mean_over_rows(add, coo: torch.fx.Node, dense: torch.fx.Node) -> torch.fx.Node:
    """``coo @ dense`` with each row divided by its entry count (at least 1)."""
    aten, x = torch.ops.aten, dense.meta["val"]
    rows = add(aten.select.int, add(aten._indices.default, coo), 0, 0)
    counts = add(aten.index_add.default, add(aten.zeros.default, [coo.meta["val"].shape[0]], dtype=x.dtype,
                                             device=x.device), 0, rows, add(aten.ones_like.default, rows, dtype=x.dtype))
    return per_row_mean(add, add(aten._sparse_mm.default, coo, dense), counts)


def _trainable_graph(program_gm: torch.fx.GraphModule, placeholders: list,
                     csr_inputs: tuple[int, ...]) -> tuple[torch.fx.GraphModule, set[str]]:
    """A copy of the exported graph AOTAutograd can trace, and the inputs a call coalesces: products with
    CSR matrices made from COO ones take the COO ones, and each CSR input comes as three dense
    placeholders, its products with dense matrices rewritten as bags over them (``fx_passes.sparse_mm``);
    any other use of a CSR input is refused."""
    gm = copy.deepcopy(program_gm)
    coalesce = _products_of_converted_coo(gm)
    nodes = list(gm.graph.find_nodes(op="placeholder"))
    for k in csr_inputs:
        node, parts = nodes[k], []
        for part in ("crow_indices", "col_indices", "values"):     # in the order _unpacked passes them
            with gm.graph.inserting_after(parts[-1] if parts else node):
                parts.append(gm.graph.placeholder(f"{node.name}_{part}"))
        for user in list(node.users):
            operands = product_operands(user)
            if operands is None or operands[0] is not node:
                raise RuntimeError(f"input {placeholders[k].name}, a sparse_csr tensor, is used by {user.target}; "
                                   f"only its products with dense matrices are traced for training: pass it as COO "
                                   f"(t.to_sparse_coo()), or call under torch.no_grad()")
            user.replace_all_uses_with(csr_bag(_adder(gm.graph, user), *parts, operands[1], operands[2]))
            gm.graph.erase_node(user)
        gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    gm.recompile()
    return gm, coalesce


def compile_exported(program: torch.export.ExportedProgram, options: dict | None = None, *,
                     observer: Observer | None = None) -> ExportedRegions:
    """Lower ``program`` (from ``torch.export.export``) with the ember options (``rest`` must stay eager);
    ``observer`` sees every graph the fx passes lowered."""
    if not isinstance(program, torch.export.ExportedProgram):
        raise TypeError(f"compile_exported takes a torch.export.ExportedProgram, got {type(program).__name__}")
    options = dict(options or {})
    if options.setdefault("rest", "eager") != "eager":
        raise ValueError("an exported program's host ops run eagerly: option 'rest' must be 'eager' here")
    return ExportedRegions(program, options, observer)
