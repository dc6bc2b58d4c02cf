"""The ``ember`` backend for ``torch.compile``: AOTAutograd splits the captured graph into forward and
backward ATen graphs (lookup ops kept whole), the fx passes move the lookups into DAE regions, and the rest
goes to Inductor or runs eagerly."""
from __future__ import annotations

import copy
import logging
import re

import torch
import torch._dynamo
import torch.fx
from functorch.compile import make_boxed_func
from torch._functorch.aot_autograd import aot_module_simplified

from typing import Callable

from .decompositions import aot_decompositions
from .double_backward import guard_double_backward
from .fx_passes import GraphKind, LoweringState, run_fx_passes
from .fx_passes.match import user_name
from .inductor_rest import compile_rest
from .options import EmberOptions
from .session import current_session

log = logging.getLogger("torch_ember")


def _compiled_function() -> str:
    """The name of the function Dynamo is compiling ("" for a module's forward, or where this version of
    Dynamo does not say): it tells apart the arguments of unrelated compiled functions that share a name."""
    context = torch._guards.TracingContext.try_get()
    codes = getattr(context, "traced_code", None) or []
    name = getattr(codes[0], "co_name", "") if codes else ""
    return "" if name in ("forward", "<module>", "<lambda>") else name


# a graph input's name as the user knows it, set by who made the graph (an exported program's "user.weight"
# for its lifted placeholder "p_user_weight"); Dynamo's graphs say it in their "grapharg"
USER_NAME = "ember_user_name"


def _primal_names(gm: torch.fx.GraphModule) -> list[str]:
    names = [n for n, _ in gm.named_parameters()] + [n for n, _ in gm.named_buffers()]
    function = _compiled_function()
    for node in gm.graph.find_nodes(op="placeholder"):
        if USER_NAME in node.meta:
            names.append(node.meta[USER_NAME])
            continue
        arg = node.meta.get("grapharg")
        if arg is None or arg.source is None:
            names.append(node.name)
            continue
        name = user_name(arg.source.name) or node.name
        is_argument = re.fullmatch(r"L\['[^']+'\]", arg.source.name) is not None   # not a module's attribute
        names.append(f"{function}.{name}" if function and is_argument else name)
    return names


# called with every lowered graph's state after the passes (its matches and host decisions): ``explain``
Observer = Callable[[LoweringState], None]


def lower_graph(gm: torch.fx.GraphModule, settings: EmberOptions, table_names: dict[str, str],
                graph_kind: GraphKind = GraphKind.FORWARD, *, observer: Observer | None = None,
                gradient_names: tuple[str, ...] = ()) -> torch.fx.GraphModule:
    """The fx passes (``fx_passes.FX_PASSES``), then what they left on the host: refused under ``strict``,
    else logged and recorded in the current session's report."""
    state = run_fx_passes(LoweringState(gm, settings, graph_kind, table_names, gradient_names))
    if observer is not None:
        observer(state)
    session = current_session()
    for decision in state.host:
        message = f"{decision.node.target} stays on the host: {decision.reason}"
        if settings.strict:
            raise RuntimeError(f"strict mode: {message}")
        log.info(message)
        session.stats.record_host_op(str(decision.node.target), decision.reason)
    return state.gm


def _compiler(settings: EmberOptions, table_names: dict[str, str], kind: GraphKind, observer: Observer | None,
              gradient_names: tuple[str, ...] = (), host_eager: bool = False):
    # AOTAutograd compiles a backward graph when it first runs, which can be inside a frame Dynamo compiles
    # (``torch.autograd.grad`` in a compiled function): Dynamo must not trace the compiler itself
    @torch._dynamo.disable
    def compile_graph(gm: torch.fx.GraphModule, example_inputs):
        gm = lower_graph(gm, settings, table_names, kind, observer=observer, gradient_names=gradient_names)
        if settings.rest == "eager" or host_eager:
            return make_boxed_func(gm.forward)
        return compile_rest(gm, example_inputs, settings, kind)
    return compile_graph


def _aot_lowering(gm: torch.fx.GraphModule, example_inputs, make_compiler, rest_on_inductor: bool):
    """AOTAutograd over ``gm``, each ATen graph compiled by ``make_compiler(table_names, kind, gradient_names)``
    (table names: the user's names for the graph's inputs)."""
    primal_names = _primal_names(gm)
    table_names = {f"primals_{i + 1}": name for i, name in enumerate(primal_names)}
    table_names.update({f"arg{i}_1": name for i, name in enumerate(primal_names)})
    compiled = aot_module_simplified(
        gm, example_inputs,
        fw_compiler=make_compiler(table_names, GraphKind.FORWARD, ()),
        bw_compiler=make_compiler({}, GraphKind.BACKWARD, tuple(primal_names)),
        inference_compiler=make_compiler(table_names, GraphKind.INFERENCE, ()),
        decompositions=aot_decompositions(rest_on_inductor),
        keep_inference_input_mutations=True,
    )
    return guard_double_backward(compiled, [p for p in gm.parameters() if p.requires_grad])


def ember_backend(gm: torch.fx.GraphModule, example_inputs, options: dict | None = None, mode: str | None = None,
                  *, observer: Observer | None = None, host_eager: bool = False):
    """``torch.compile(model, backend="ember", options={...})`` or ``mode=...``; see ``EmberOptions``.
    ``observer`` sees every graph the passes lowered. ``host_eager``: the host part runs eagerly whatever
    ``rest`` says, on the graph ``rest`` decomposes, so that ``explain`` and ``autotune`` lower the regions a
    compile with these options lowers (by the same names) without compiling the rest."""
    settings = EmberOptions.from_dict(options, mode)
    return _aot_lowering(gm, example_inputs, lambda names, kind, gradients: _compiler(
        settings, names, kind, observer, gradients, host_eager), settings.rest == "inductor")


def relowering_backend(current: Callable[[], EmberOptions], observer: Observer | None = None):
    """A backend that traces once and lowers each ATen graph again for whatever options ``current()`` gives
    when the graph runs (the host part eager), keeping each lowering: ``autotune`` measures configuration
    after configuration without tracing the model again, which is most of a compile's time. ``observer``
    sees every lowering."""
    def make_compiler(table_names, kind, gradient_names):
        @torch._dynamo.disable        # as ``_compiler``'s
        def compile_graph(gm: torch.fx.GraphModule, example_inputs):
            pristine, lowered = copy.deepcopy(gm), {}

            @torch._dynamo.disable    # it lowers the graph the first time options are seen
            def run(args):
                settings = current()
                if settings not in lowered:
                    lowered[settings] = make_boxed_func(lower_graph(
                        copy.deepcopy(pristine), settings, table_names, kind, observer=observer,
                        gradient_names=gradient_names).forward)
                return lowered[settings](args)
            run._boxed_call = True
            return run
        return compile_graph

    # traced once, decomposed as the options of that first call's ``rest`` would have it (not a knob)
    return lambda gm, example_inputs: _aot_lowering(gm, example_inputs, make_compiler, current().rest == "inductor")
