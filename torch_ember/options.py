"""The backend's settings: one dataclass, defaults in one place, validated from ``options={...}``."""
from __future__ import annotations

import enum
import fnmatch
import functools
import hashlib
import importlib.util
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dae_emulator
from dae_emulator.config import DeviceConfig

if TYPE_CHECKING:
    from .region_spec import RegionSpec


@functools.cache
def build_id() -> str:
    """A digest of the code behind a region (torch_ember's and dae_emulator's sources). Every region call
    carries it: Inductor's graph cache keys on a graph's text, not on the code of the custom ops in it, and
    would otherwise replay a graph compiled against another ember (seen: a backward compiled before the
    donation fix, output strides from an older fake implementation)."""
    digest = hashlib.sha256()
    for package in (Path(__file__).parent, Path(dae_emulator.__file__).parent):
        for source in sorted(package.rglob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Knobs:
    """The compiler's tunable parameters (``None``: derive from the device); ``EmberOptions`` takes its
    defaults from here."""

    vector_width: int | None = None    # elements per vector; default: the device's vector bytes / 4
    unroll: int = 8                    # the hand-written programs' factor (benchmarks/handwritten)
    buffer_bytes: int | None = None    # bufferized rows travel in pieces of this many bytes; None: whole rows
    tile: int | None = None            # the cores take outer items in tiles of this many; None: a block each

    def width(self, device: DeviceConfig) -> int:
        return self.vector_width or max(device.vector_bytes // 4, 1)


KNOB_NAMES = tuple(f.name for f in fields(Knobs))


def _knob_value(name: str, value: Any) -> Any:
    """``value`` as knob ``name`` keeps it (an integer of any kind, numpy's too, as a Python int); otherwise a
    TypeError (not an int) or ValueError (below 1) saying what is wrong with it."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    if value is None and name != "unroll":
        return None
    allowed = "a positive int" if name == "unroll" else "a positive int or None"
    wrong_type = not isinstance(value, numbers.Integral) or isinstance(value, bool)
    raise (TypeError if wrong_type else ValueError)(f"{name!r} must be {allowed}, got {value!r}")


def _region_knobs(value: Any) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """``region_knobs`` as given (a mapping, or its items as JSON gives them back) in its frozen form:
    ``((pattern, ((knob, value), ...)), ...)``, in the user's order."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        items = [(pattern, knobs) for pattern, knobs in items]
    except (TypeError, ValueError):
        raise TypeError("option 'region_knobs' must map region patterns to knob settings, as in "
                        "{'*:tables.3.weight': {'unroll': 2}}, got " + repr(value)) from None
    frozen = []
    for pattern, knobs in items:
        if not isinstance(pattern, str):
            raise TypeError(f"option 'region_knobs': a region pattern must be a non-empty str, got {pattern!r}")
        if not pattern:
            raise ValueError(f"option 'region_knobs': a region pattern must be a non-empty str, got {pattern!r}")
        knobs = knobs.items() if isinstance(knobs, Mapping) else knobs
        try:
            knobs = tuple((name, v) for name, v in knobs)
        except (TypeError, ValueError):
            raise TypeError(f"option 'region_knobs' for {pattern!r}: expected a mapping of knobs "
                            f"({', '.join(KNOB_NAMES)}) to values, got {knobs!r}") from None
        for name, _ in knobs:
            if name not in KNOB_NAMES:
                raise ValueError(f"option 'region_knobs' for {pattern!r}: unknown knob {name!r}; the knobs are "
                                 f"{', '.join(KNOB_NAMES)}")
        try:
            knobs = tuple((name, _knob_value(name, v)) for name, v in knobs)
        except (TypeError, ValueError) as err:
            raise type(err)(f"option 'region_knobs' for {pattern!r}: {err}") from None
        frozen.append((pattern, knobs))
    return tuple(frozen)


class Timing(str, enum.Enum):
    """How the DAE device's time is modeled (``options={"timing": ...}``)."""

    SAMPLED = "sampled"   # a region's first launches and a systematic sample of the rest in detail, the others
                          # estimated (with an interval) and run by the host's own kernel
    FULL = "full"         # every launch in full detail


def inductor_modes() -> dict[str, dict]:
    import torch._inductor
    return torch._inductor.list_mode_options()


def pattern_matches(pattern: str, key: str) -> bool:
    """Whether a ``region_knobs`` pattern (fnmatch) names the region of ``op:table`` key ``key``: its whole key
    or its table alone."""
    return fnmatch.fnmatchcase(key, pattern) or fnmatch.fnmatchcase(key.partition(":")[2], pattern)


@dataclass(frozen=True)
class EmberOptions:
    device: str | DeviceConfig = next(iter(dae_emulator.PRESETS))   # preset name or a DeviceConfig
    rest: str = "inductor"       # where the non-lookup graph runs: "inductor" or "eager"
    opt_level: int = 3           # 0..3; see torch_ember.pipeline (0: unoptimized, for debugging)
    vector_width: int | None = Knobs.vector_width   # compiler knob: elements per vector (None: the device's width)
    unroll: int = Knobs.unroll   # compiler knob: execute-loop unroll factor at opt_level 3
    buffer_bytes: int | None = Knobs.buffer_bytes   # compiler knob: bytes per buffered row piece at opt_level >= 2
                                                    # (None: whole rows)
    tile: int | None = Knobs.tile   # compiler knob: at opt_level >= 1, cores take outer items in tiles of this many,
                                    # in turn (None: one contiguous block per core)
    # knobs per region: {pattern: {knob: value}}; a pattern (fnmatch) matches a region's ``op:table`` name or its
    # table; every matching entry applies, in order, over the global knobs above (see ``knobs_for``). Kept frozen
    # as ((pattern, ((knob, value), ...)), ...)
    region_knobs: Mapping[str, Mapping[str, int | None]] | tuple = ()
    verify: bool = False         # re-run each region eagerly and compare
    strict: bool = False         # raise instead of leaving a lookup op on the host
    agent_library: str | None = None   # a dae_agent library: its verified programs run where they model faster
    regions: str = "dae"         # where regions run: "dae" (the emulated device) or "triton" (GPU kernels)
    mode: str = "default"        # torch.compile's mode, for what Inductor compiles (rest="inductor")
    timing: Timing = Timing.SAMPLED   # "sampled" or "full" (see Timing)
    timing_error: float = 0.02        # sampled: the relative error each region's modeled total aims at ...
    timing_confidence: float = 0.95   # ... with this confidence

    def __post_init__(self) -> None:
        if isinstance(self.device, str):
            dae_emulator.preset(self.device)  # raises ValueError listing the presets
        elif not isinstance(self.device, DeviceConfig):
            raise ValueError(f"option 'device' must be a preset name ({', '.join(dae_emulator.PRESETS)}) or a "
                             f"dae_emulator.DeviceConfig, got {self.device!r}")
        if self.rest not in ("inductor", "eager"):
            raise ValueError(f"option 'rest' must be 'inductor' or 'eager', got {self.rest!r}")
        if isinstance(self.opt_level, bool) or not isinstance(self.opt_level, numbers.Integral) or \
                self.opt_level not in range(4):
            raise ValueError(f"option 'opt_level' must be 0, 1, 2 or 3, got {self.opt_level!r}")
        object.__setattr__(self, "opt_level", int(self.opt_level))     # numpy's too, as a Python int
        for name in KNOB_NAMES:
            try:
                object.__setattr__(self, name, _knob_value(name, getattr(self, name)))
            except (TypeError, ValueError) as err:
                raise type(err)(f"option {err}") from None
        object.__setattr__(self, "region_knobs", _region_knobs(self.region_knobs))
        try:
            object.__setattr__(self, "timing", Timing(self.timing))
        except ValueError:
            raise ValueError(f"option 'timing' must be 'sampled' or 'full', got {self.timing!r}") from None
        for name in ("timing_error", "timing_confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
                raise ValueError(f"option {name!r} must be a number between 0 and 1 (exclusive), got {value!r}")
            object.__setattr__(self, name, float(value))     # numpy's too, as a Python float
        for name in ("verify", "strict"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"option {name!r} must be True or False, got {getattr(self, name)!r}")
        if self.regions not in ("dae", "triton"):
            raise ValueError(f"option 'regions' must be 'dae' or 'triton', got {self.regions!r}")
        if not isinstance(self.mode, str) or self.mode not in inductor_modes():
            raise RuntimeError(f"Unrecognized mode={self.mode!r}, should be one of: {', '.join(inductor_modes())}")
        if self.regions == "triton" and importlib.util.find_spec("triton") is None:
            raise ValueError("option regions='triton' needs the triton package (pip install triton)")

    @staticmethod
    def from_dict(options: dict | None, mode: str | None = None) -> "EmberOptions":
        """``options`` as ``torch.compile(options=...)`` passes them; ``mode`` as ``torch.compile(mode=...)``
        does (torch.compile takes one or the other; ``options={"mode": ...}`` gives both)."""
        options = dict(options or {})
        if mode is not None:
            options["mode"] = mode
        known = [f.name for f in fields(EmberOptions)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"unknown ember option(s) {unknown}; known options: {known}")
        return EmberOptions(**options)

    @property
    def inductor_config(self) -> dict:
        """The Inductor settings ``mode`` stands for, as ``torch.compile(backend="inductor", mode=...)``
        applies them."""
        return inductor_modes()[self.mode]

    @property
    def device_config(self) -> DeviceConfig:
        return dae_emulator.preset(self.device) if isinstance(self.device, str) else self.device

    @property
    def knobs(self) -> Knobs:
        """The global knobs (every region's, unless ``region_knobs`` says otherwise)."""
        return Knobs(self.vector_width, self.unroll, self.buffer_bytes, self.tile)

    def knobs_for(self, spec: "RegionSpec") -> Knobs:
        """The knobs region ``spec`` is compiled with: the global ones, then every ``region_knobs`` entry whose
        pattern matches its ``op:table`` name or its table, in order. A batched region's are its parts' (the
        fx passes batch only regions with the same knobs)."""
        if spec.parts:
            return self.knobs_for(spec.parts[0])
        changes: dict[str, Any] = {}
        for pattern, knobs in self.region_knobs:
            if pattern_matches(pattern, spec.key):
                changes.update(knobs)
        return replace(self.knobs, **changes) if changes else self.knobs

    def to_dict(self) -> dict:
        """The options as JSON values (a region call carries them: ``region_call``)."""
        d = asdict(self)
        d["device"] = self.device if isinstance(self.device, str) else asdict(self.device)
        d["timing"] = self.timing.value
        d["region_knobs"] = {pattern: dict(knobs) for pattern, knobs in self.region_knobs}
        return d

    @staticmethod
    def from_json_dict(d: dict) -> "EmberOptions":
        device = d["device"] if isinstance(d["device"], str) else DeviceConfig(**d["device"])
        return EmberOptions(**{**d, "device": device})
