"""Host decompositions: what ember left on the host, in a form Inductor accepts.

The backend keeps lookup ops whole through AOTAutograd so that the matcher sees them (the decomposition
table it passes leaves them out). Inductor lowers some of them itself (``gather``, ``embedding``, ...); for
the others (``index_select``, ``take``, ``index_fill``, ``embedding_dense_backward``, ...) it relies on the
decomposition AOTAutograd would have applied, and refuses a graph that still holds one. Each such node
left on the host is replaced here by the decomposition Inductor would have received, traced from the
node's own fake values, so the rest of the graph compiles as it would without ember.
"""
from __future__ import annotations

import contextlib

import torch
import torch.fx
from torch.fx.experimental.proxy_tensor import make_fx
from torch.utils import _pytree as pytree


def inductor_needs_decomposed(ops: frozenset) -> frozenset:
    """Of ``ops`` (those kept whole), the ones Inductor has no lowering for (yet: a fallback Inductor made
    for one of them earlier in the process is a lowering from then on)."""
    from torch._inductor.lowering import lowerings
    return frozenset(op for op in ops if op not in lowerings)


def _traced(node: torch.fx.Node, decompositions: dict) -> tuple[torch.fx.GraphModule, list[torch.fx.Node]]:
    """The decomposition of ``node`` as a graph whose placeholders are its tensor (and symbolic) inputs."""
    flat, spec = pytree.tree_flatten((node.args, node.kwargs))
    inputs = [k for k, a in enumerate(flat) if isinstance(a, torch.fx.Node)]

    def call(*values):
        args = list(flat)
        for k, v in zip(inputs, values):
            args[k] = v
        call_args, call_kwargs = pytree.tree_unflatten(args, spec)
        return node.target(*call_args, **call_kwargs)

    fakes = [flat[k].meta["val"] for k in inputs]
    fake_mode = torch._guards.detect_fake_mode(fakes)
    with fake_mode if fake_mode is not None else contextlib.nullcontext():
        traced = make_fx(call, decomposition_table=decompositions)(*fakes)
    return traced, [flat[k] for k in inputs]


def _inline(gm: torch.fx.GraphModule, node: torch.fx.Node, traced: torch.fx.GraphModule,
            inputs: list[torch.fx.Node]) -> None:
    graph, env = gm.graph, {}
    placeholders = iter(inputs)
    with graph.inserting_before(node):
        for sub in traced.graph.nodes:
            if sub.op == "placeholder":
                env[sub] = next(placeholders)
            elif sub.op == "get_attr":       # a constant the decomposition made
                name = f"_ember_host_constant_{len(list(graph.nodes))}"
                setattr(gm, name, getattr(traced, sub.target))
                env[sub] = graph.get_attr(name)
                env[sub].meta.update(sub.meta)
            elif sub.op == "output":
                result = sub.args[0]
            else:
                env[sub] = graph.node_copy(sub, env.__getitem__)
    node.replace_all_uses_with(env[result])
    graph.erase_node(node)


def decompose_host_ops(gm: torch.fx.GraphModule, ops: frozenset) -> torch.fx.GraphModule:
    """Every node of ``ops`` (see ``inductor_needs_decomposed``) is traced through Inductor's whole table,
    as AOTAutograd would have traced it (a decomposition may call another op that needs one: ``index_fill``
    becomes ``index_copy``)."""
    from torch._inductor.decomposition import select_decomp_table
    left = [n for n in gm.graph.nodes if n.op == "call_function" and n.target in ops
            and isinstance(n.meta.get("val"), torch.Tensor)]
    for node in left:
        traced, inputs = _traced(node, select_decomp_table())
        _inline(gm, node, traced, inputs)
    if left:
        gm.graph.lint()
        gm.recompile()
    return gm
