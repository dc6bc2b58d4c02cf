"""``run(program, inputs, device)``: launch one DAE program on named input tensors."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import PRESETS, DeviceConfig, preset
from .cost import CostRecord
from .errors import DaeShapeError
from .functional.access import AccessRun
from .functional.execute import TORCH_DTYPE, ExecuteRun, collect_firings
from .program import Program
from .scratchpad import usable_depth
from .text import parse_program
from .timing import estimate
from .timing.intervals import IntervalSampling, estimate_sampled
from .trace import LaunchTrace
from .verify import verify

_PAGE = 4096


@dataclass(frozen=True)
class RunResult:
    outputs: dict[str, torch.Tensor]
    trace: LaunchTrace
    cost: CostRecord | None      # None when run with ``timing=False``
    cost_margin: float = 0.0     # half-width of ``cost.seconds``' interval where its pipelines were sampled


def bind_sizes(program: Program, inputs: dict[str, torch.Tensor]) -> dict[str, int]:
    """Size symbols from the input shapes; checks names, ranks, dtypes and agreement between inputs."""
    missing = [p.name for p in program.inputs if p.name not in inputs]
    extra = sorted(set(inputs) - {p.name for p in program.inputs})
    if missing or extra:
        raise DaeShapeError(f"program {program.name} takes inputs {[p.name for p in program.inputs]}; "
                            f"missing {missing}, unexpected {extra}")
    sizes: dict[str, int] = {}
    for p in program.inputs:
        t = inputs[p.name]
        if t.dim() != len(p.shape):
            raise DaeShapeError(f"input {p.name} must have {len(p.shape)} dimension(s), got shape {tuple(t.shape)}")
        if t.dtype != TORCH_DTYPE[p.dtype.value]:
            raise DaeShapeError(f"input {p.name} must be {p.dtype.value}, got {t.dtype}")
        for dim, size in zip(p.shape, t.shape):
            if dim.symbol is None:
                if size != dim.offset:
                    raise DaeShapeError(f"input {p.name} needs size {dim.offset}, got {size}")
                continue
            value = size - dim.offset
            if sizes.setdefault(dim.symbol, value) != value:
                raise DaeShapeError(f"size {dim.symbol} is {sizes[dim.symbol]} from an earlier input but "
                                    f"{value} from {p.name} (shape {tuple(t.shape)})")
    return sizes


def _with_extra_sizes(bound: dict[str, int], extra: dict[str, int]) -> dict[str, int]:
    for name, value in extra.items():
        if bound.get(name, value) != value:
            raise DaeShapeError(f"size {name} is {bound[name]} from the inputs but {value} in sizes=")
    return {**bound, **extra}


def _all_sizes(program: Program, inputs: dict[str, torch.Tensor], sizes: dict[str, int] | None) -> dict[str, int]:
    """The input-bound sizes and ``sizes``; every size symbol the program names must be among them."""
    sizes = _with_extra_sizes(bind_sizes(program, inputs), sizes or {})
    named = [(f"stream {s.name}", o[1:]) for s in program.streams for o in s.operands
             if isinstance(o, str) and o.startswith("$")]
    named += [(f"traversal unit {t.name}", t.extent.symbol) for t in program.traversals if t.extent is not None]
    named += [(f"accumulator {a.name}", a.width.symbol) for a in program.accumulators if a.width is not None]
    named += [(f"output {o.name}", d.symbol) for o in program.outputs for d in o.shape]
    for user, symbol in named:
        if symbol is not None and symbol not in sizes:
            raise DaeShapeError(f"{user} uses size {symbol}, which no input binds; pass it in sizes=")
    return sizes


def _new_outputs(program: Program, sizes: dict[str, int], device: torch.device | str | None) -> dict[str, torch.Tensor]:
    outputs = {}
    for p in program.outputs:
        unbound = [d.symbol for d in p.shape if d.symbol and d.symbol not in sizes]
        if unbound:
            raise DaeShapeError(f"output {p.name} needs size {unbound[0]}, which no input binds; pass it in sizes=")
        shape = [(sizes[d.symbol] if d.symbol else 0) + d.offset for d in p.shape]
        if min(shape, default=0) < 0:
            raise DaeShapeError(f"output {p.name} would have negative shape {shape}")
        outputs[p.name] = torch.full(shape, p.init, dtype=TORCH_DTYPE[p.dtype.value], device=device)
    return outputs


def empty_outputs(program: Program, inputs: dict[str, torch.Tensor], *, sizes: dict[str, int] | None = None,
                  device: torch.device | str = "meta") -> dict[str, torch.Tensor]:
    """The outputs ``run`` would return for these inputs, on ``device`` (by default tensors without values,
    to learn their shapes and dtypes); raises as ``run`` does for inputs that do not fit the program."""
    return _new_outputs(program, _all_sizes(program, inputs, sizes), device)


def _layout(program: Program, tensors: dict[str, torch.Tensor]) -> dict[str, int]:
    """Byte addresses of every parameter, laid out page-aligned one after another."""
    base, next_free = {}, _PAGE
    for p in program.params:
        base[p.name] = next_free
        nbytes = tensors[p.name].numel() * tensors[p.name].element_size()
        next_free += (nbytes + _PAGE - 1) // _PAGE * _PAGE + _PAGE
    return base


def run(program: Program | str, inputs: dict[str, torch.Tensor], device: DeviceConfig | str | None = None,
        *, sizes: dict[str, int] | None = None, timing: bool = True,
        intervals: IntervalSampling | None = None) -> RunResult:
    """Run ``program`` (object or text) on named inputs; returns its outputs, the executed access trace and,
    unless ``timing=False``, the modeled cost of the launch on ``device`` (a preset name or config): with
    ``intervals``, its pipelines timed on sampled intervals where the launch is big enough for that to pay
    (``timing.intervals``), else every event timed.
    ``sizes`` binds size symbols that no input's shape binds (an output's row count, say).

    Raises ``DaeSyntaxError`` / ``DaeVerifyError`` for a bad program, ``DaeShapeError`` for inputs that do
    not fit it, ``DaeAddressError`` / ``DaeRangeError`` when the inputs drive an access out of bounds; in
    every error case no output is returned.
    """
    program = parse_program(program) if isinstance(program, str) else program
    config = preset(device) if isinstance(device, str) else device or next(iter(PRESETS.values()))
    verify(program, config)
    inputs = {name: t.contiguous() for name, t in inputs.items()}
    sizes = _all_sizes(program, inputs, sizes)
    outputs = _new_outputs(program, sizes, None)
    depth = usable_depth(program, sizes, config.queue_capacity, config.scratchpad_bytes)   # raises if none fits
    addresses = _layout(program, {**inputs, **outputs})
    access = AccessRun(program, {**inputs, **outputs}, sizes, addresses)   # outputs: for prefetch streams only
    access.run()
    execute = ExecuteRun(program, collect_firings(program, access), outputs, addresses, sizes, config.vector_bytes)
    execute.run()
    trace = LaunchTrace(program.name, access.num_events, access.event_item, access.num_items,
                        tuple(access.records + execute.records), tuple(execute.tokens), depth, program.tile)
    if not timing:
        return RunResult(outputs, trace, None)
    if intervals is None:
        return RunResult(outputs, trace, estimate(trace, config))
    sampled = estimate_sampled(trace, config, intervals)
    return RunResult(outputs, trace, sampled.record, sampled.margin_seconds)
