"""The ``ember`` backend for ``torch.compile``: AOTAutograd splits the captured graph into forward and
backward ATen graphs (lookup ops kept whole), the fx passes move the lookups into DAE regions, and the rest
goes to Inductor or runs eagerly."""
from __future__ import annotations

import logging
import re

import torch
import torch.fx
from functorch.compile import make_boxed_func
from torch._functorch.aot_autograd import aot_module_simplified

from .decompositions import aot_decompositions
from .fx_passes.canonicalize import canonicalize
from .fx_passes.fuse import batch_embedding_bags, batch_gathers, fuse_epilogues, fuse_message_passing
from .fx_passes.known_values import find_known_values
from .fx_passes.match import match_regions
from .fx_passes.partition import partition
from .fx_passes.sparse_mm import rewrite_sparse_mm
from .inductor_rest import compile_rest
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


def _compiler(settings: EmberOptions, table_names: dict[str, str], *, is_backward: bool, is_inference: bool):
    def compile_graph(gm: torch.fx.GraphModule, example_inputs):
        kind = "backward" if is_backward else "inference" if is_inference else "forward"
        gm = lower_graph(gm, settings, table_names, kind)
        if settings.rest == "eager":
            return make_boxed_func(gm.forward)
        return compile_rest(gm, example_inputs, settings, kind)
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
