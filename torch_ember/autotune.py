"""Tune the compiler's knobs, or the DAE device itself, against the emulator's modeled time.

    tuned = torch_ember.autotune(model, (dense, sparse), budget=40)
    compiled = torch.compile(model, backend="ember", options=tuned)

    # hardware mode: the best device whose modeled area fits 170 mm^2 (a known constraint)
    tuned = torch_ember.autotune(model, inputs, budget=60, hardware=HardwareBudget(area_mm2=170))

The search is ``tune``'s (Bayesian optimization over ordinals, with known constraints and unknown ones
learned from failures). One evaluation compiles the model with the configuration (``rest="eager"``: the host
part does not change the modeled time), runs it on the example inputs, forward and, when the outputs need
grad, backward through ``torch.autograd.grad`` (so no ``.grad`` is touched), and reads the modeled DAE
seconds of every region from ``torch_ember.report()``. Each evaluation resets that report and Dynamo's
caches (otherwise the recompiles for new options pile up); keep the example inputs small, since the emulator
runs them for real. The emulator is deterministic, so each configuration is measured once.

Knobs tuned are the ones the compiler exposes today: ``opt_level``, ``vector_width``, ``unroll``,
``buffer_bytes`` (a known constraint keeps its pieces whole fp32 vectors) and, on a device with more than one
core, ``tile`` (how the cores split the outer items). With ``per_region=True`` every region of the model
(each table's bag, each backward scatter, the message passing; as ``torch_ember.explain`` lists them) gets
its own ``vector_width``, ``unroll``, ``buffer_bytes`` and ``tile``, with the constraint on each, and
``opt_level`` stays one for the model: dozens of parameters, returned as ``region_knobs``.

With ``workers=k`` the search proposes ``k`` configurations at a time and measures them in parallel
(``tune.minimize``'s executors: a local process pool by default, or a Dask cluster). Each worker process
compiles on its own; threads are refused, as torch.compile is not thread-safe.
"""
from __future__ import annotations

import dataclasses
import functools
import glob
import re
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils import _pytree as pytree

import tune
from dae_emulator.config import DeviceConfig
from dae_emulator.verify import DaeVerifyError

from .dynamo_backend import ember_backend, relowering_backend
from .options import EmberOptions
from .pipeline import knobs_used
from .runtime.stats import RegionRecord
from .session import current_session

_POW2 = tuple(2**k for k in range(8))   # 1 .. 128

KNOBS = (
    tune.Ordinal("opt_level", (0, 1, 2, 3)),
    tune.Ordinal("vector_width", _POW2[:7]),          # elements per vector; the device caps the lanes
    tune.Ordinal("unroll", _POW2[:6]),                # execute-loop unroll, used at opt_level 3
    # bytes per buffered row piece at opt_level >= 2: bigger pieces, fewer queue pushes, but fewer entries fit
    # the scratchpad that holds the operand queues (dae_emulator.scratchpad)
    tune.Ordinal("buffer_bytes", tuple(64 * 4**k for k in range(5))),    # 64 B .. 16 KiB
    # outer items per tile the cores take in turn; None (one block per core) is the largest tile of all.
    # Searched only on a device with more than one core, where it can matter.
    tune.Ordinal("tile", (*_POW2, None)),
)
KNOB_CONSTRAINTS = ("buffer_bytes % (4 * vector_width) == 0",)     # whole vectors of fp32 per piece
REGION_KNOBS = ("vector_width", "unroll", "buffer_bytes", "tile")   # the knobs a region can have of its own
DEVICE_PARAMS = (
    tune.Ordinal("cores", _POW2[:7]),
    tune.Ordinal("queue_capacity", _POW2[2:]),        # 4 .. 128 tokens per queue
    tune.Ordinal("max_outstanding", _POW2[2:]),       # line requests in flight per access unit
    tune.Ordinal("queues", _POW2[1:6]),               # 2 .. 32; too few and a program does not bind
    tune.Ordinal("traversal_units", _POW2[:5]),       # 1 .. 16; likewise
    tune.Ordinal("cache_mib", _POW2[:7]),             # shared last-level cache, 1 .. 64 MiB
)


@dataclass(frozen=True)
class AreaModel:
    """Modeled silicon area of a device's cores, access units and last-level cache, in mm^2.

    area = cores * (core + traversal_units * traversal_unit + storage * bytes of queues and request slots)
           + cache_mib * sram

    Where the constants come from (rough public figures, one process generation, 5-7 nm):
    - ``core_mm2`` 3.84: an AMD Zen 4 core with its 1 MiB L2, as measured on public die shots (TSMC N5);
      the execute unit is such a vector core.
    - ``sram_mm2_per_mib`` 0.64: AMD's 3D V-Cache die holds 64 MiB of SRAM in about 41 mm^2 (7 nm).
    - ``storage_mm2_per_mib`` 5.1: queues and miss slots are multi-ported register files, assumed eight
      times less dense than the SRAM arrays above (an assumption, not a measurement).
    - ``traversal_unit_mm2`` 0.05: a traversal unit is a few counters, comparators and an address
      generator, assumed to cost about as much as a small integer pipeline (an assumption).
    A queue entry holds one vector plus an 8-byte token; a request slot holds one line.
    """

    core_mm2: float = 3.84
    sram_mm2_per_mib: float = 0.64
    storage_mm2_per_mib: float = 5.1
    traversal_unit_mm2: float = 0.05

    def coefficients(self, base: DeviceConfig) -> dict[str, float]:
        per_byte = self.storage_mm2_per_mib / 2**20
        return {"core": self.core_mm2, "tu": self.traversal_unit_mm2, "entry": per_byte * (base.vector_bytes + 8),
                "slot": per_byte * base.line_bytes, "mib": self.sram_mm2_per_mib}

    def expression(self, base: DeviceConfig) -> str:
        """The area as an expression over the hardware parameters (the form ``tune`` constraints take)."""
        c = {k: repr(v) for k, v in self.coefficients(base).items()}
        return (f"cores * ({c['core']} + {c['tu']} * traversal_units + {c['entry']} * queues * queue_capacity"
                f" + {c['slot']} * max_outstanding) + {c['mib']} * cache_mib")

    def mm2(self, device: DeviceConfig) -> float:
        c = self.coefficients(device)
        per_core = (c["core"] + c["tu"] * device.traversal_units + c["entry"] * device.queues * device.queue_capacity
                    + c["slot"] * device.max_outstanding)
        return device.cores * per_core + c["mib"] * device.cache_bytes / 2**20


@dataclass(frozen=True)
class HardwareBudget:
    """What a tuned device may cost. Area is a known constraint (no device over it is ever run); energy per
    run of the example inputs is known only after running, so the tuner learns it as an unknown one."""

    area_mm2: float | None = None
    energy_joules: float | None = None
    area_model: AreaModel = AreaModel()


class Tuned(dict):
    """The best options found, as the mapping ``torch.compile(options=tuned)`` takes, carrying their modeled
    time (``modeled_seconds``), that of the options the search started from (``start_seconds``; None: their
    device broke the budget) and the whole search (``result``)."""

    def __init__(self, options: dict[str, Any], modeled_seconds: float, start_seconds: float | None,
                 result: tune.Result) -> None:
        super().__init__(options)
        self.modeled_seconds, self.start_seconds, self.result = modeled_seconds, start_seconds, result

    @property
    def options(self) -> dict[str, Any]:
        """The options as a plain dict."""
        return dict(self)

    def __repr__(self) -> str:
        return f"Tuned({dict(self)!r}, modeled_seconds={self.modeled_seconds!r})"


def measure(model: torch.nn.Module, example_inputs: Sequence[Any], options: dict[str, Any]) -> RegionRecord:
    """Compile with ``options`` (host part eager, on the graph their ``rest`` decomposes), run forward and
    backward once, and total the regions."""
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=lambda gm, ex: ember_backend(gm, ex, options, host_eager=True))
    return _run(compiled, model, example_inputs)


class Measurer:
    """``measure`` for one options after another, tracing the model once: its ATen graphs are lowered again
    for each options (``relowering_backend``), which costs the fx passes, not Dynamo's and AOTAutograd's
    trace (most of a compile: 0.74 of 0.87 s per configuration of examples/dlrm.py's model, profiled)."""

    def __init__(self, model: torch.nn.Module, example_inputs: Sequence[Any]) -> None:
        self.model, self.example_inputs = model, tuple(example_inputs)
        self._options: EmberOptions | None = None
        self._compiled = None
        self._keys: dict[EmberOptions, list[str]] = {}    # per options lowered: its regions' keys

    def __call__(self, options: dict[str, Any]) -> RegionRecord:
        self._options = EmberOptions.from_dict(options)
        if self._compiled is None:
            torch._dynamo.reset()
            backend = relowering_backend(lambda: self._options, self._observe)
            self._compiled = torch.compile(self.model, backend=backend)
        return _run(self._compiled, self.model, self.example_inputs)

    def region_keys(self, options: dict[str, Any]) -> tuple[str, ...]:
        """The ``op:table`` key of every region ``options`` lower (a batched region's parts), each once, in
        the order lowered, as ``explain(...).region_keys`` lists them; seen while measuring ``options``, so
        that the model is traced once for this and every measurement."""
        self(options)
        return tuple(dict.fromkeys(self._keys.get(self._options, ())))

    def _observe(self, state) -> None:
        self._keys.setdefault(self._options, []).extend(k for m in state.matches for k in m.spec.knob_keys)


def _run(compiled, model: torch.nn.Module, example_inputs: Sequence[Any]) -> RegionRecord:
    """Forward and backward once (``torch.autograd.grad``: no ``.grad`` is touched); the regions' total."""
    current_session().reset()
    outputs = [t for t in pytree.tree_leaves(compiled(*example_inputs))
               if isinstance(t, torch.Tensor) and t.requires_grad]
    wrt = [p for p in model.parameters() if p.requires_grad]
    if outputs and wrt:
        torch.autograd.grad(outputs, wrt, [torch.ones_like(t) for t in outputs], allow_unused=True)
    report = current_session().stats.report()
    if not report.regions:
        raise ValueError("the model ran no DAE region on the example inputs: there is nothing to tune")
    return report.total()


def _parameter_prefix(key: str, taken: set[str]) -> str:
    """A name for region ``key`` that tune's constraint expressions can use: ``embedding_bag_sum:tables.0.weight``
    as ``embedding_bag_sum__tables_0_weight``."""
    name = re.sub(r"\W", "_", key.replace(":", "__"))
    name = name if not name[0].isdigit() else "r_" + name
    unique, k = name, 1
    while unique in taken:
        k += 1
        unique = f"{name}_{k}"
    taken.add(unique)
    return unique


class Objective:
    """Modeled seconds of one configuration of ``space``; a device that cannot hold the program, or that
    spends more energy than the budget, is infeasible. Results are kept per configuration.

    ``per_region``: the space holds each region's knobs (``regions`` maps each region's key to the prefix of
    its parameters, ``{prefix}__{knob}``) and one ``opt_level``."""

    def __init__(self, model: torch.nn.Module, example_inputs: Sequence[Any], options: dict[str, Any] | None = None,
                 hardware: HardwareBudget | None = None, per_region: bool = False) -> None:
        self.model, self.example_inputs, self.hardware = model, tuple(example_inputs), hardware
        self.start = dict(options or {})
        self.device = EmberOptions.from_dict(self.start).device_config     # also checks the options
        if per_region and hardware is not None:
            raise ValueError("per_region tunes the compiler's knobs; hardware mode tunes the device: pick one")
        self.regions: dict[str, str] = {}
        self.groups: tuple[tuple[str, ...], ...] = ()     # tune.BayesianOptions.groups for this space
        knobs = [k for k in KNOBS if k.name != "tile" or self.device.cores > 1]
        self._measure = Measurer(model, self.example_inputs)
        if per_region:
            keys = self._measure.region_keys(self.start)
            if not keys:
                raise ValueError("the model lowers no DAE region on the example inputs: there is nothing to tune")
            taken: set[str] = set()
            self.regions = {key: _parameter_prefix(key, taken) for key in keys}
            params, constraints = [knobs[0]], []
            for prefix in self.regions.values():
                params += [dataclasses.replace(k, name=f"{prefix}__{k.name}") for k in knobs[1:]]
                constraints += [re.sub(rf"\b({'|'.join(REGION_KNOBS)})\b", rf"{prefix}__\1", c)
                                for c in KNOB_CONSTRAINTS]
            self.space = tune.Space(params, constraints)
            # the modeled time is the sum of the regions' times: each region's knobs (and opt_level) add apart
            self.groups = tuple((knobs[0].name, *(f"{prefix}__{k.name}" for k in knobs[1:]))
                                for prefix in self.regions.values())
        elif hardware is None:
            self.space = tune.Space(knobs, list(KNOB_CONSTRAINTS))
        else:
            area = hardware.area_model.expression(self.device)
            limits = [] if hardware.area_mm2 is None else [f"{area} <= {hardware.area_mm2!r}"]
            self.space = tune.Space(DEVICE_PARAMS, limits)
        self.cache: dict[tuple, float | None] = {}

    def __getstate__(self) -> dict:
        """What a worker process gets: not the traced model (it traces its own)."""
        return {**self.__dict__, "_measure": Measurer(self.model, self.example_inputs)}

    def options(self, config: dict[str, Any]) -> dict[str, Any]:
        """``torch.compile`` options for ``config``: the starting options with the knobs or the device replaced."""
        if self.regions:
            region_knobs = {glob.escape(key): {knob: config[f"{prefix}__{knob}"] for knob in REGION_KNOBS
                                               if f"{prefix}__{knob}" in config}
                            for key, prefix in self.regions.items()}
            return {**self.start, "opt_level": config["opt_level"], "region_knobs": region_knobs}
        if self.hardware is None:
            return {**self.start, **config}
        fields = {k: v for k, v in config.items() if k != "cache_mib"}
        device = dataclasses.replace(self.device, name="tuned", cache_bytes=config["cache_mib"] * 2**20, **fields)
        return {**self.start, "device": device}

    def __call__(self, config: dict[str, Any]) -> float:
        key = self.key(config)
        if key not in self.cache:
            self.cache[key] = self._evaluate(self.options(config))
        if self.cache[key] is None:
            raise tune.Infeasible("the device cannot run the program, or spends more energy than the budget")
        return self.cache[key]

    @functools.cached_property
    def conditions(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """When each knob matters: ``{parameter: ("opt_level", levels that read it)}``, for a tuner that takes
        conditional parameters (SMAC3's conditions, Optuna's define-by-run). Empty in hardware mode."""
        if self.hardware is not None:
            return {}
        levels = next(p.values for p in self.space.params if p.name == "opt_level")
        return {n: ("opt_level", tuple(lv for lv in levels if n.rpartition("__")[2] in knobs_used(lv)))
                for n in self.space.names if n != "opt_level"}

    def key(self, config: dict[str, Any]) -> tuple:
        """Configurations that differ only in knobs their opt_level ignores compile to the same programs, so
        they share one measurement."""
        if self.hardware is not None:
            return self.space.key(config)
        conditions = self.conditions
        return tuple(None if n in conditions and config[conditions[n][0]] not in conditions[n][1] else config[n]
                     for n in self.space.names)

    def _evaluate(self, options: dict[str, Any]) -> float | None:
        try:
            total = self._measure(options)
        except DaeVerifyError:      # too few queues or traversal units for a region's program
            return None
        budget = self.hardware.energy_joules if self.hardware else None
        return None if budget is not None and total.energy_joules > budget else total.modeled_seconds

    def start_seconds(self) -> float | None:
        """Modeled seconds of the starting options; None when their device breaks the budget."""
        budget = self.hardware
        if budget is not None and budget.area_mm2 is not None and budget.area_model.mm2(self.device) > budget.area_mm2:
            return None
        return self._evaluate(self.start)


def autotune(model: torch.nn.Module, example_inputs: Sequence[Any], budget: int = 40, *, seed: int = 0,
             options: dict[str, Any] | None = None, hardware: HardwareBudget | None = None,
             sampler: tune.Sampler | None = None, per_region: bool = False, workers: int = 1,
             executor: Executor | str | None = None) -> Tuned:
    """Search ``budget`` configurations for the lowest modeled DAE time of ``model`` on ``example_inputs``.

    Without ``hardware``, the compiler knobs are tuned for the device in ``options`` (each region's own with
    ``per_region``); with it, the device's cores, queues, request slots, traversal units and cache size are,
    under its area and energy budget, starting from that device. The starting options are measured too, and
    returned when nothing found beats them. ``sampler`` replaces the Bayesian search (``tune.RandomSampler``
    for the baseline). ``workers`` and ``executor``: evaluate ``workers`` configurations at a time on a
    process pool (the default: workers started fresh, so ``model``'s class must be importable, as it is when
    a script keeps its run under ``if __name__ == "__main__":``), a Dask scheduler's address or a
    ``concurrent.futures.Executor`` of processes (``distributed.Client(...).get_executor()``); a
    configuration whose evaluation fails there is infeasible.
    """
    if executor == "threads" or isinstance(executor, ThreadPoolExecutor):
        raise ValueError("autotune cannot evaluate on threads: torch.compile is not thread-safe; use processes "
                         "(the default) or a Dask cluster")
    objective = Objective(model, example_inputs, options, hardware, per_region)
    if workers > 1 and executor is None:
        executor = "spawn"      # a forked child of a process that has run torch can hang in its thread pools
    result = tune.minimize(objective, objective.space, budget, seed, sampler=sampler, workers=workers,
                           executor=executor, options=tune.BayesianOptions(groups=objective.groups),
                           equivalent=objective.key)
    start_seconds = objective.start_seconds()
    if result.best is None and start_seconds is None:
        raise ValueError(f"none of {budget} configurations was feasible, and the starting options are over budget")
    if result.best is None or (start_seconds is not None and start_seconds <= result.best_value):
        return Tuned(dict(objective.start), start_seconds, start_seconds, result)
    return Tuned(objective.options(result.best_config), result.best_value, start_seconds, result)
