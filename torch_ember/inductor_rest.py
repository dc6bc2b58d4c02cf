"""The rest of the graph through Inductor (``rest="inductor"``): what ember left on the host, handed over in
a form Inductor accepts, with the settings ``mode`` stands for; a graph Inductor still refuses runs eagerly."""
from __future__ import annotations

import copy
import logging
from collections import Counter

import torch
import torch.fx
from functorch.compile import make_boxed_func
from torch.multiprocessing.reductions import StorageWeakRef

from .decompositions import inductor_decompositions, kept_whole
from .fx_passes.host_decompose import decompose_host_ops, inductor_needs_decomposed
from .options import EmberOptions
from .fx_passes.state import GraphKind

log = logging.getLogger("torch_ember")


def _storage(value) -> StorageWeakRef | None:
    if not isinstance(value, torch.Tensor) or value.is_sparse or value.layout is not torch.strided:
        return None
    return StorageWeakRef(value.untyped_storage())


def _donate_only_unshared(gm: torch.fx.GraphModule) -> None:
    """AOTAutograd lets Inductor reuse ("donate") the memory of saved tensors in the backward once they
    are dead, but checks only that they do not alias the forward's inputs and outputs, not each other. A
    region's output saved twice (``relu`` and its ``alias`` when a ReLU epilogue is fused) is then two
    donated inputs on one storage, and Inductor overwrites one while the other is still to be read. Keep
    the donation only for saved tensors whose storage no other input shares."""
    context = torch._guards.TracingContext.try_get()
    metadata = getattr(context, "fw_metadata", None)
    donated = getattr(metadata, "bw_donated_idxs", None)
    if not donated:
        return
    storages = [_storage(node.meta.get("val")) for node in gm.graph.find_nodes(op="placeholder")]
    owners = Counter(s for s in storages if s is not None)
    metadata.bw_donated_idxs = [i for i in donated if owners[storages[i]] == 1]


def _inductor_takes_decompositions() -> bool:
    """Whether this torch's ``compile_fx_inner`` takes the decomposition table (``get_decomp_fn``)."""
    from torch._inductor.compile_fx import _CompileFxKwargs
    return "get_decomp_fn" in getattr(_CompileFxKwargs, "__annotations__", {})


def _for_inductor(gm: torch.fx.GraphModule, settings: EmberOptions) -> tuple[torch.fx.GraphModule, dict]:
    """The lowered graph and the ``compile_fx_inner`` arguments that make what ember left on the host
    compile as eager runs it: where Inductor takes the table AOTAutograd was given, the lookup ops kept
    whole run as their ATen kernels (eager's values, eager's errors); an older Inductor is given their
    decompositions instead."""
    if _inductor_takes_decompositions():
        _allow_fallbacks(gm)
        return gm, {"get_decomp_fn": inductor_decompositions}
    return decompose_host_ops(gm, inductor_needs_decomposed(kept_whole())), {}


def _allow_fallbacks(gm: torch.fx.GraphModule) -> None:
    """Register the ATen kernel as Inductor's lowering of each op kept whole in ``gm`` that Inductor has no
    lowering for (``index_select``, ...), as Inductor's implicit fallback does. Where the environment names
    a CI (``CI`` set, as GitHub Actions and our CI do), Inductor refuses to make that implicit fallback for an
    op with a decomposition, and the graph ran eagerly instead (with a warning) unless Inductor's cache held
    its compile: a cold cache in CI saw it, a warm one here did not."""
    from torch._inductor import lowering
    kept = kept_whole()
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in kept and node.target not in lowering.lowerings:
            lowering.make_fallback(node.target, warn=False, override_decomp=True)


def compile_rest(gm: torch.fx.GraphModule, example_inputs, settings: EmberOptions, kind: GraphKind):
    """Inductor's compiled function for a lowered ``kind`` graph."""
    import torch._inductor.config
    from torch._inductor.compile_fx import compile_fx_inner
    gm, inductor_kwargs = _for_inductor(gm, settings)
    if kind is GraphKind.BACKWARD:
        _donate_only_unshared(gm)
    # Inductor's passes rewrite the graph they are given: keep a copy of it (its constants shared)
    untouched = torch.fx.GraphModule(gm, copy.deepcopy(gm.graph))
    try:
        with torch._inductor.config.patch(settings.inductor_config):
            return compile_fx_inner(gm, example_inputs, is_backward=kind is GraphKind.BACKWARD,
                                    is_inference=kind is GraphKind.INFERENCE, **inductor_kwargs)
    except Exception as error:      # noqa: BLE001  (whatever Inductor refuses runs as eager runs it)
        # e.g. an op left on the host that eager would reject at run time (index_select with a 2-D index):
        # eager then raises its own error, with its own type, when the graph runs
        log.warning("Inductor could not compile the %s graph, which runs eagerly instead: %s", kind.value,
                    str(error).splitlines()[0] if str(error) else type(error).__name__)
        return make_boxed_func(untouched.forward)
