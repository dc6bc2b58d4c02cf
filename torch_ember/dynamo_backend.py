"""The ``ember`` backend for ``torch.compile``: AOTAutograd splits the captured graph into forward and
backward ATen graphs (lookup ops kept whole), the fx passes move the lookups into DAE regions, and the rest
goes to Inductor or runs eagerly."""
from __future__ import annotations

import copy
import logging
import re
from collections import Counter

import torch
import torch.fx
from functorch.compile import make_boxed_func
from torch._functorch.aot_autograd import aot_module_simplified
from torch.multiprocessing.reductions import StorageWeakRef

from .decompositions import aot_decompositions, inductor_decompositions, kept_whole
from .fx_passes.canonicalize import canonicalize
from .fx_passes.fuse import batch_embedding_bags, batch_gathers, fuse_epilogues, fuse_message_passing
from .fx_passes.host_decompose import decompose_host_ops, inductor_needs_decomposed
from .fx_passes.known_values import find_known_values
from .fx_passes.match import match_regions
from .fx_passes.partition import partition
from .fx_passes.sparse_mm import rewrite_sparse_mm
from .options import EmberOptions
from .runtime.stats import STATS

log = logging.getLogger("torch_ember")


def _user_name(source_name: str) -> str:
    """``L['self']._modules['emb']._parameters['weight']`` -> ``emb.weight``; a top-level argument keeps its name."""
    name = re.sub(r"\._(?:modules|parameters|buffers)\['([^']+)'\]", r".\1", source_name)
    name = re.sub(r"^L\['[^']+'\]\.", "", name)    # the compiled module itself: its attribute path
    name = re.sub(r"^G\['([^']+)'\]", r"\1", name)      # a module-level global keeps its variable name
    return re.sub(r"^L\['([^']+)'\]", r"\1", name) or source_name


def _primal_names(gm: torch.fx.GraphModule) -> list[str]:
    names = [n for n, _ in gm.named_parameters()] + [n for n, _ in gm.named_buffers()]
    for node in gm.graph.find_nodes(op="placeholder"):
        arg = node.meta.get("grapharg")
        names.append(_user_name(arg.source.name) if arg is not None and arg.source is not None else node.name)
    return names


# Called with (graph kind, region matches, host decisions) for every lowered graph; explain() listens here.
LOWERING_OBSERVERS: list = []


def lower_graph(gm: torch.fx.GraphModule, settings: EmberOptions, table_names: dict[str, str],
                graph_kind: str = "forward") -> torch.fx.GraphModule:
    """The fx passes in order: sparse products rewritten, canonicalize, match, known values (aranges), fuse
    (message passing, epilogues, batched bags, batched gathers), partition."""
    gm = canonicalize(rewrite_sparse_mm(gm))
    devices = ("cuda", "cpu") if settings.regions == "triton" else ("cpu",)
    matches, host = match_regions(gm, table_names, graph_kind, devices)
    matches = find_known_values(matches)
    matches = batch_gathers(batch_embedding_bags(fuse_epilogues(fuse_message_passing(matches))))
    for observe in LOWERING_OBSERVERS:
        observe(graph_kind, matches, host)
    for decision in host:
        message = f"{decision.node.target} stays on the host: {decision.reason}"
        if settings.strict:
            raise RuntimeError(f"strict mode: {message}")
        log.info(message)
        STATS.record_host_op(str(decision.node.target), decision.reason)
    return partition(gm, matches, settings.runtime_json())


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
        return gm, {"get_decomp_fn": inductor_decompositions}
    return decompose_host_ops(gm, inductor_needs_decomposed(kept_whole())), {}


def _compiler(settings: EmberOptions, table_names: dict[str, str], *, is_backward: bool, is_inference: bool):
    def compile_graph(gm: torch.fx.GraphModule, example_inputs):
        kind = "backward" if is_backward else "inference" if is_inference else "forward"
        gm = lower_graph(gm, settings, table_names, kind)
        if settings.rest == "eager":
            return make_boxed_func(gm.forward)
        import torch._inductor.config
        from torch._inductor.compile_fx import compile_fx_inner
        gm, inductor_kwargs = _for_inductor(gm, settings)
        if is_backward:
            _donate_only_unshared(gm)
        # Inductor's passes rewrite the graph they are given: keep a copy of it (its constants shared)
        untouched = torch.fx.GraphModule(gm, copy.deepcopy(gm.graph))
        try:
            with torch._inductor.config.patch(settings.inductor_config):
                return compile_fx_inner(gm, example_inputs, is_backward=is_backward, is_inference=is_inference,
                                        **inductor_kwargs)
        except Exception as error:      # noqa: BLE001  (whatever Inductor refuses runs as eager runs it)
            # e.g. an op left on the host that eager would reject at run time (index_select with a 2-D
            # index): eager then raises its own error, with its own type, when the graph runs
            log.warning("Inductor could not compile the %s graph, which runs eagerly instead: %s", kind,
                        str(error).splitlines()[0] if str(error) else type(error).__name__)
            return make_boxed_func(untouched.forward)
    return compile_graph


def ember_backend(gm: torch.fx.GraphModule, example_inputs, options: dict | None = None, mode: str | None = None):
    """``torch.compile(model, backend="ember", options={...})`` or ``mode=...``; see ``EmberOptions``."""
    settings = EmberOptions.from_dict(options, mode)
    primal_names = _primal_names(gm)
    table_names = {f"primals_{i + 1}": name for i, name in enumerate(primal_names)}
    table_names.update({f"arg{i}_1": name for i, name in enumerate(primal_names)})
    return aot_module_simplified(
        gm, example_inputs,
        fw_compiler=_compiler(settings, table_names, is_backward=False, is_inference=False),
        bw_compiler=_compiler(settings, {}, is_backward=True, is_inference=False),
        inference_compiler=_compiler(settings, table_names, is_backward=False, is_inference=True),
        decompositions=aot_decompositions(settings.rest == "inductor"),
        keep_inference_input_mutations=True,
    )
