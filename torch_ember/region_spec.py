"""What a lowered region computes: the static description every later stage works from.

A spec holds only attributes fixed at compile time (mode, padding index, flags, the table's name); sizes
come from the tensors at launch, so one spec serves every batch size. It travels as JSON (``to_dict``) inside
the custom-op call (``region_call``), so compiled code stays self-contained (a cached graph needs no
process-local registry).
"""
from __future__ import annotations

import enum
import functools
from dataclasses import asdict, dataclass, field

from dae_emulator.program import ReduceKind


class RegionKind(enum.Enum):
    EMBEDDING_BAG = "embedding_bag"                        # aten._embedding_bag / _forward_only
    EMBEDDING = "embedding"                                # aten.embedding
    EMBEDDING_BACKWARD = "embedding_backward"              # aten.embedding_dense_backward
    EMBEDDING_BAG_BACKWARD = "embedding_bag_backward"      # aten._embedding_bag_backward, sum / mean
    EMBEDDING_BAG_MAX_BACKWARD = "embedding_bag_max_backward"  # aten._embedding_bag_backward, max
    EMBEDDING_BAG_WEIGHTS_BACKWARD = "embedding_bag_weights_backward"  # _per_sample_weights_backward
    GATHER_ROWS = "gather_rows"            # index_select(dim 0), x[index]
    SCATTER_ROWS = "scatter_rows"          # index_add / index_put(accumulate) / index_reduce, row scatters
    GATHER_SCATTER = "gather_scatter"      # message passing: out[dst] (+)= x[src] (* edge weight)
    GATHER_ELEMENTS = "gather_elements"    # gather / take_along_dim along any dimension
    SCATTER_ELEMENTS = "scatter_elements"  # scatter_add / scatter_reduce along any dimension
    SEGMENT_REDUCE = "segment_reduce"      # segment_reduce over contiguous rows
    SEGMENT_REDUCE_BACKWARD = "segment_reduce_backward"   # aten._segment_reduce_backward
    SEGMENT_TIES = "segment_ties"          # a segment max or min backward's ties, counted before it (no graph op)
    SEGMENT_PRODUCTS = "segment_products"  # a segment prod backward's products and counts, made before it (no graph op)
    BATCHED = "batched"                    # several independent regions (``parts``) in one launch
    FINISH_ROWS = "finish_rows"            # a row scatter's combine and epilogue, run after it (no graph op)


class BagMode(enum.IntEnum):
    SUM = 0
    MEAN = 1
    MAX = 2


class Reduction(enum.Enum):
    """How a scatter or a segment combines the values that meet at one place. ATen spells max and min
    ``amax`` and ``amin`` for scatters, ``max`` and ``min`` for segments: ``parse`` takes both."""
    SUM = "sum"
    MEAN = "mean"
    PROD = "prod"
    MAX = "max"
    MIN = "min"

    @staticmethod
    def parse(name: str) -> "Reduction":
        """The reduction a user's ``reduce=`` string names (the one place such strings are read)."""
        return {"amax": Reduction.MAX, "amin": Reduction.MIN}.get(name) or Reduction(name)

    @property
    def scatter_name(self) -> str:
        """The spelling of ``index_reduce`` and ``scatter_reduce``."""
        return {Reduction.MAX: "amax", Reduction.MIN: "amin"}.get(self, self.value)

    @property
    def accumulator(self) -> ReduceKind:
        """The device's reduction that accumulates it (a mean sums, and divides after)."""
        return ReduceKind.SUM if self is Reduction.MEAN else ReduceKind(self.value)

    @property
    def identity(self) -> float:
        return {Reduction.PROD: 1.0, Reduction.MAX: float("-inf"), Reduction.MIN: float("inf")}.get(self, 0.0)


class SourceOp(enum.Enum):
    """The ATen op a gather or scatter region replaces: its reference, its error messages and types."""
    NONE = ""
    INDEX_SELECT = "index_select"
    INDEX = "index"                  # x[index]
    INDEX_ADD = "index_add"
    INDEX_PUT = "index_put"          # with accumulate=True
    INDEX_REDUCE = "index_reduce"
    SCATTER_ADD = "scatter_add"
    SCATTER_REDUCE = "scatter_reduce"
    GATHER = "gather"

    @property
    def wraps(self) -> bool:
        """Advanced indexing: an index in ``[-size, 0)`` counts from the end."""
        return self in (SourceOp.INDEX, SourceOp.INDEX_PUT)


class SegmentBounds(enum.Enum):
    """How a segment reduction is told its segments (the ATen keyword that carries them)."""
    LENGTHS = "lengths"
    OFFSETS = "offsets"


class Epilogue(enum.Enum):
    """An elementwise op after a region's output, fused into it: ``(RELU, 0.0)`` or ``(SCALE, c)``."""
    RELU = "relu"
    SCALE = "scale"


_BAG_KINDS = {RegionKind.EMBEDDING_BAG, RegionKind.EMBEDDING_BAG_BACKWARD, RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD}
_REDUCING_KINDS = {RegionKind.SCATTER_ROWS, RegionKind.GATHER_SCATTER, RegionKind.SCATTER_ELEMENTS,
                   RegionKind.SEGMENT_REDUCE, RegionKind.SEGMENT_REDUCE_BACKWARD, RegionKind.FINISH_ROWS,
                   RegionKind.SEGMENT_TIES}
_SEGMENT_KINDS = {RegionKind.SEGMENT_REDUCE, RegionKind.SEGMENT_REDUCE_BACKWARD, RegionKind.SEGMENT_TIES}


@dataclass(frozen=True)
class RegionSpec:
    kind: RegionKind
    table: str                       # the user's name for the table, for messages
    mode: BagMode = BagMode.SUM
    padding_idx: int = -1            # -1: none
    include_last_offset: bool = False
    has_weights: bool = False
    num_weights: int = 0             # rows of the gradient table (backward)
    dim: int = 0                     # embedding width, where a program needs it as a constant
    reduce: Reduction = Reduction.SUM   # scatters and segments
    include_self: bool = True        # scatters: whether the destination's old value takes part
    axis: int = 0                    # element gathers and scatters: the indexed dimension
    alpha: float = 1.0               # index_add's scale of the source
    initial: float | None = None     # segment_reduce's ``initial``: every segment's reduction starts from it
    unsafe: bool = False             # segment_reduce's ``unsafe``: the segments need not cover every row
    op: SourceOp = SourceOp.NONE     # the ATen op the region replaces (its reference and error style)
    bounds: SegmentBounds = SegmentBounds.LENGTHS   # segments: how the call gives them
    gathered_by: SourceOp = SourceOp.NONE    # GATHER_SCATTER: the op whose gather was fused in
    fused: tuple[str, ...] = field(default=())   # names of the ops fused into the region, for its name only
    parts: tuple["RegionSpec", ...] = field(default=())   # BATCHED: the regions it runs, in order
    epilogue: tuple[tuple[Epilogue, float], ...] = field(default=())  # (RELU, 0) / (SCALE, c) on the output
    # program inputs known to hold ``start + step * position`` (made by ``torch.arange`` in the graph):
    # (input name, start, step); the launch checks them
    arange: tuple[tuple[str, int, int], ...] = field(default=())
    # BATCHED: (input, earlier input) pairs, both prefixed: ``shared``, the same tensor (passed once);
    # ``same_length``, tensors of equal length (their loops share an iteration space)
    shared: tuple[tuple[str, str], ...] = field(default=())
    same_length: tuple[tuple[str, str], ...] = field(default=())

    @functools.cached_property
    def name(self) -> str:
        if self.kind is RegionKind.BATCHED:
            return f"batched_{len(self.parts)}x_{self.parts[0].name}" if len(
                {p.name for p in self.parts}) == 1 else f"batched_{len(self.parts)}_regions"
        parts = [self.kind.value]
        if self.kind in _BAG_KINDS:
            parts.append(self.mode.name.lower())
        elif self.kind in _SEGMENT_KINDS:
            parts.append(self.reduce.value)
        elif self.kind in _REDUCING_KINDS:
            parts.append(self.reduce.scatter_name)
        parts += list(self.fused)
        if self.has_weights:
            parts.append("weighted")
        if self.padding_idx >= 0:
            parts.append(f"pad{self.padding_idx}")
        return "_".join(parts)

    @property
    def key(self) -> str:
        """``name:table``: how reports, traces and logs name the region."""
        return f"{self.name}:{self.table}"

    @property
    def knob_keys(self) -> tuple[str, ...]:
        """The keys ``region_knobs`` can give knobs to in this region: a batched region's parts', else its own."""
        return tuple(p.key for p in self.parts) or (self.key,)

    @staticmethod
    def prefix(part: int) -> str:
        """A batched region's part ``part`` names its program inputs and outputs with this prefix."""
        return f"t{part}_"

    @property
    def needs_count(self) -> bool:
        """A scatter whose combine needs each destination's number of contributions (a mean's divisor, or
        which rows an ``include_self=False`` reduction touched)."""
        return self.reduce is Reduction.MEAN or not self.include_self

    @property
    def known_values(self) -> tuple[tuple[str, int, int], ...]:
        """The ``arange`` facts, a batched region's parts' under their prefixes."""
        if self.kind is RegionKind.BATCHED:
            return tuple((RegionSpec.prefix(k) + name, start, step) for k, part in enumerate(self.parts)
                         for name, start, step in part.arange)
        return self.arange

    @property
    def finished_by_a_second_program(self) -> bool:
        """A row scatter's epilogue needs every contribution landed: a second program (``finish_rows``)
        combines and applies it."""
        return bool(self.epilogue) and self.kind in (RegionKind.SCATTER_ROWS, RegionKind.GATHER_SCATTER)

    def finish_rows(self) -> "RegionSpec":
        """The second program's region (see ``finished_by_a_second_program``)."""
        return RegionSpec(RegionKind.FINISH_ROWS, self.table, reduce=self.reduce, include_self=self.include_self,
                          alpha=self.alpha, op=self.op, epilogue=self.epilogue,
                          fused=tuple(name.value for name, _ in self.epilogue))

    def prepass(self) -> "RegionSpec | None":
        """A max, min or prod segment backward first runs a program of its own over each segment (its ties;
        its products and counts): that program's region; None for the others."""
        if self.kind is not RegionKind.SEGMENT_REDUCE_BACKWARD:
            return None
        if self.reduce is Reduction.PROD:
            return RegionSpec(RegionKind.SEGMENT_PRODUCTS, self.table, op=self.op, bounds=self.bounds)
        if self.reduce in (Reduction.MAX, Reduction.MIN):
            return RegionSpec(RegionKind.SEGMENT_TIES, self.table, reduce=self.reduce, op=self.op, bounds=self.bounds)
        return None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind"], d["mode"] = self.kind.value, int(self.mode)
        for key in ("reduce", "op", "bounds", "gathered_by"):
            d[key] = getattr(self, key).value
        d["epilogue"] = [(name.value, arg) for name, arg in self.epilogue]
        d["parts"] = [p.to_dict() for p in self.parts]
        return d

    @staticmethod
    def from_dict(d: dict) -> "RegionSpec":
        d = dict(d)
        d["kind"], d["mode"] = RegionKind(d["kind"]), BagMode(d["mode"])
        d["fused"] = tuple(d["fused"])
        d["reduce"], d["op"] = Reduction(d["reduce"]), SourceOp(d["op"])
        d["bounds"], d["gathered_by"] = SegmentBounds(d["bounds"]), SourceOp(d["gathered_by"])
        d["epilogue"] = tuple((Epilogue(name), float(arg)) for name, arg in d.get("epilogue", ()))
        d["parts"] = tuple(RegionSpec.from_dict(p) for p in d.get("parts", ()))
        d["arange"] = tuple((name, int(start), int(step)) for name, start, step in d.get("arange", ()))
        for key in ("shared", "same_length"):
            d[key] = tuple((a, b) for a, b in d.get(key, ()))
        return RegionSpec(**d)
