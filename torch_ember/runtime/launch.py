"""Launch one region: adapt the arguments, fetch (or compile) its DAE program, run it on the emulated
device, check it against eager PyTorch when asked, record statistics, and shape the results."""
from __future__ import annotations

import dataclasses
import functools
import json
import time

import torch

import dae_emulator
from dae_emulator.config import DeviceConfig
from dae_emulator.errors import DaeShapeError
from dae_emulator.program import DType
from dae_emulator.run import bind_sizes
from dae_emulator.scratchpad import DaeScratchpadError, usable_depth
from dae_emulator.verify import DaeVerifyError

from ..pipeline import Compiled, Knobs, compile_region
from ..region_spec import RegionKind, RegionSpec
from .adapters import ADAPTERS, apply_epilogue, check_known_values
from .agent_programs import agent_program
from .index_adapters import prepass_region
from .stats import LAUNCHES, STATS, Launch, count_execute_ops

_DTYPES = {torch.float32: DType.F32, torch.float16: DType.F16, torch.bfloat16: DType.BF16,
           torch.float64: DType.F64, torch.int32: DType.I32, torch.int64: DType.I64, torch.bool: DType.BOOL}


@functools.lru_cache(maxsize=None)
def device_from_json(text: str) -> DeviceConfig:
    value = json.loads(text)
    return dae_emulator.preset(value) if isinstance(value, str) else DeviceConfig(**value)


@functools.lru_cache(maxsize=1024)
def program_for(spec_json: str, dtypes: tuple[tuple[str, DType], ...], device_json: str, opt_level: int,
                knobs_json: str = "{}", agent_library: str | None = None) -> Compiled:
    """The program cache: one compilation per region spec, input dtypes, device, level, knobs and library."""
    spec, device = RegionSpec.from_json(spec_json), device_from_json(device_json)
    compiled = compile_region(spec, dict(dtypes), device, opt_level, Knobs(**json.loads(knobs_json)))
    if agent_library:
        agent = agent_program(spec, dict(dtypes), compiled.dae, agent_library, device.name)
        if agent is not None:
            return dataclasses.replace(compiled, dae=agent, source="agent")
    return compiled


@functools.lru_cache(maxsize=256)
def _settings(settings_json: str) -> dict:
    """The launch settings, parsed once per distinct JSON text (shared between launches: read, never written)."""
    return json.loads(settings_json)


def launch(spec_json: str, settings_json: str, args: list[torch.Tensor]) -> list[torch.Tensor]:
    """Run one region. Under ``torch.profiler`` it is the event ``ember::<region>``; the launch log keeps
    its modeled time and bound, which ``torch_ember.profiler`` adds to that event in the exported trace."""
    spec = RegionSpec.from_json(spec_json)
    settings = _settings(settings_json)
    first = prepass_region(spec, args)
    if first is not None:               # a max, min or prod segment backward runs a program over its segments first
        first_spec, first_args = first
        args = [*args, *launch(first_spec.to_json(), settings_json, first_args)]
    if settings.get("regions") == "triton":   # options={"regions": "triton"}: GPU kernels instead of the emulator
        return _launch_triton(spec, settings, args)
    region = f"{spec.name}:{spec.table}"
    with torch.profiler.record_function(f"ember::{region}"):
        start_ns = time.time_ns()
        outputs, device, cost = _launch(spec, spec_json, settings, args)
        LAUNCHES.record(Launch.of(region, device, start_ns, time.time_ns() - start_ns, cost))
    return outputs


def _launch(spec: RegionSpec, spec_json: str, settings: dict, args: list[torch.Tensor]):
    if hasattr(ADAPTERS[spec.kind], "specialize"):  # a cheaper program for what these tensors really are
        spec, args = ADAPTERS[spec.kind].specialize(spec, args)
        spec_json = spec.to_json()
    adapter = ADAPTERS[spec.kind]
    inputs = adapter.program_inputs(spec, args)
    check_known_values(spec, inputs)
    dtypes = tuple(sorted((name, _DTYPES[t.dtype]) for name, t in inputs.items()))
    device_json = json.dumps(settings["device"], sort_keys=True)
    knobs = settings.get("knobs", {})
    compiled = program_for(spec_json, dtypes, device_json, settings["opt_level"], json.dumps(knobs, sort_keys=True),
                           settings.get("agent_library"))
    device = device_from_json(device_json)
    sizes = adapter.sizes(spec, args) if hasattr(adapter, "sizes") else None
    try:
        result, elapsed = _timed_run(compiled, inputs, device, sizes)
    except DaeScratchpadError:      # rows too wide for the scratchpad, found as the sizes are bound
        pieces = None if knobs.get("buffer_bytes") is not None else _in_pieces(
            spec_json, dtypes, device_json, settings, inputs, sizes, device)
        if pieces is None:
            raise
        result, elapsed = _timed_run(pieces, inputs, device, sizes)
    trace = result.trace
    STATS.record_launch(f"{spec.name}:{spec.table}", spec.kind.value, device.name, device.dram_bandwidth_gbs,
                        lookups=trace.lookups, bytes_read=trace.bytes_read, bytes_written=trace.bytes_written,
                        emulator_seconds=elapsed, cost=result.cost, execute_ops=count_execute_ops(trace))
    if spec.epilogue and spec.kind in _FINISHED_BY_A_SECOND_PROGRAM:
        outputs = _finish_rows(spec, settings, args, result.outputs)
    else:
        outputs = adapter.finish(spec, args, result.outputs)
    if settings.get("verify"):
        _compare(spec, outputs, apply_epilogue(spec, adapter.reference(spec, args)))
    return outputs, device, result.cost


# a row scatter's epilogue needs every contribution landed: a second program combines and applies it
_FINISHED_BY_A_SECOND_PROGRAM = {RegionKind.SCATTER_ROWS: 0, RegionKind.GATHER_SCATTER: 3}   # -> the destination


def _finish_rows(spec: RegionSpec, settings: dict, args: list[torch.Tensor], outputs: dict) -> list[torch.Tensor]:
    finish = RegionSpec(RegionKind.FINISH_ROWS, spec.table, reduce=spec.reduce, include_self=spec.include_self,
                        alpha=spec.alpha, op=spec.op, epilogue=spec.epilogue,
                        fused=tuple(name for name, _ in spec.epilogue))
    counts = [outputs["count"]] if "count" in outputs else []
    destination = args[_FINISHED_BY_A_SECOND_PROGRAM[spec.kind]]
    return launch(finish.to_json(), json.dumps(settings), [destination, outputs["out"], *counts])


def _timed_run(compiled: Compiled, inputs: dict[str, torch.Tensor], device: DeviceConfig,
               sizes: dict[str, int] | None) -> tuple[dae_emulator.RunResult, float]:
    start = time.perf_counter()
    result = dae_emulator.run(compiled.dae, inputs, device, sizes=sizes)
    return result, time.perf_counter() - start


def _fits_scratchpad(program, inputs: dict[str, torch.Tensor], sizes: dict[str, int] | None,
                     device: DeviceConfig) -> bool:
    """Whether one entry of each of the program's operand queues fits the device's scratchpad for these
    inputs (bad shapes are left for ``dae_emulator.run`` to report)."""
    try:
        bound = {**bind_sizes(program, inputs), **(sizes or {})}
        usable_depth(program, bound, device.queue_capacity, device.scratchpad_bytes)
    except DaeShapeError:
        return True
    except DaeScratchpadError:
        return False
    return True


def _in_pieces(spec_json: str, dtypes: tuple, device_json: str, settings: dict, inputs: dict[str, torch.Tensor],
               sizes: dict[str, int] | None, device: DeviceConfig) -> Compiled | None:
    """Rows too wide to travel whole through the scratchpad: the region recompiled with rows pushed in the
    largest pieces that fit (the ``buffer_bytes`` knob, halved from the scratchpad's size down to one
    vector); None if not even one vector per queue fits."""
    piece = 1 << (device.scratchpad_bytes.bit_length() - 1)
    while piece >= device.vector_bytes:
        knobs = json.dumps({**settings.get("knobs", {}), "buffer_bytes": piece}, sort_keys=True)
        try:        # pieces of constant size are checked against the scratchpad as the program compiles
            compiled = program_for(spec_json, dtypes, device_json, settings["opt_level"], knobs,
                                   settings.get("agent_library"))
        except DaeVerifyError:
            compiled = None
        if compiled is not None and _fits_scratchpad(compiled.dae, inputs, sizes, device):
            return compiled
        piece //= 2
    return None


def _launch_triton(spec: RegionSpec, settings: dict, args: list[torch.Tensor]) -> list[torch.Tensor]:
    from ..triton import run_region   # imported only when asked for: triton is an optional dependency

    region = f"{spec.name}:{spec.table}"
    device = args[0].device
    with torch.profiler.record_function(f"ember::{region}"):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            outputs = run_region(spec, args)
            end.record()
            STATS.record_kernel(region, spec.kind.value, f"{device} ({torch.cuda.get_device_name(device)})",
                                cuda_events=(start, end))
        else:
            began = time.perf_counter()
            outputs = run_region(spec, args)
            STATS.record_kernel(region, spec.kind.value, f"{device.type} (Triton interpreter)",
                                seconds=time.perf_counter() - began)
    if settings.get("verify"):
        _compare(spec, outputs, apply_epilogue(spec, ADAPTERS[spec.kind].reference(spec, args)))
    return outputs


def _compare(spec: RegionSpec, got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            raise RuntimeError(f"verify: region {spec.name} output {k} has shape {tuple(g.shape)}, eager gives "
                               f"{tuple(w.shape)}")
        tol = 1e-2 if w.dtype in (torch.float16, torch.bfloat16) else 1e-4
        if w.is_floating_point() and not torch.allclose(g, w, rtol=tol, atol=tol, equal_nan=True):
            raise RuntimeError(f"verify: region {spec.name} output {k} differs from eager by "
                               f"{(g - w).abs().max().item():.3g}")
        if not w.is_floating_point() and not torch.equal(g, w):
            raise RuntimeError(f"verify: region {spec.name} output {k} differs from eager")
