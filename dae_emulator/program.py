"""The DAE program: what the emulated device runs.

A program has typed parameters (tensors in DRAM), an access configuration and an execute loop.

Access configuration: traversal units arranged in a chain of layers (a dense loop ``[0, n)`` or a range
loop ``[lo, hi)`` whose bounds are streams of the layer above), streams (the induction variable of a
traversal unit, element or row loads indexed by another stream, integer ALU ops), and push rules: on an
event of a traversal unit (an iteration, or the end of one), optionally guarded by a predicate stream, push
stream heads into queues and then a control token naming a callback. The cores of a device split the
outer items (iterations of the outermost traversal units) in one block each, or in tiles dealt in turn.

Execute loop: pop a token, run its callback. A callback pops its operands (one pop per queue it consumes),
computes, updates or reads accumulators, stores. Accumulators carry state across tokens: an accumulator is
updated in some callbacks and read, then reset, in others.

Nodes are frozen dataclasses; ``replace`` makes changed copies. ``dae_emulator.text`` prints and parses.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class DType(enum.Enum):
    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    F64 = "f64"
    I32 = "i32"
    I64 = "i64"
    BOOL = "bool"

    @property
    def is_float(self) -> bool:
        return self in (DType.F32, DType.F16, DType.BF16, DType.F64)

    @property
    def nbytes(self) -> int:
        """Bytes of one element."""
        return _NBYTES[self]


_NBYTES = {DType.F32: 4, DType.F16: 2, DType.BF16: 2, DType.F64: 8, DType.I32: 4, DType.I64: 8, DType.BOOL: 1}


@dataclass(frozen=True)
class Dim:
    """A tensor dimension: a size symbol plus a constant (``num_offsets - 1``) or a plain constant."""

    symbol: str | None = None
    offset: int = 0

    def __str__(self) -> str:
        if self.symbol is None:
            return str(self.offset)
        if self.offset == 0:
            return self.symbol
        return f"{self.symbol} {'+' if self.offset > 0 else '-'} {abs(self.offset)}"


@dataclass(frozen=True)
class Param:
    name: str
    dtype: DType
    shape: tuple[Dim, ...]
    is_output: bool = False
    init: float = 0.0          # outputs start filled with this (the identity of their read-modify-write)


class TraversalKind(enum.Enum):
    DENSE = "dense"      # [0, extent)
    RANGE = "range"      # [lo, hi) with lo, hi streams of the parent layer


@dataclass(frozen=True)
class Traversal:
    name: str
    kind: TraversalKind
    parent: str | None = None
    extent: Dim | None = None            # DENSE only
    lo: str | None = None                # RANGE only: stream names
    hi: str | None = None


class StreamKind(enum.Enum):
    INDUCTION = "induction"   # the traversal unit's induction variable
    LOAD = "load"             # element load: tensor[index]
    LOAD_ROW = "load_row"     # row load: tensor[index, :]
    PREFETCH_ROW = "prefetch_row"   # the lines of tensor[index, :] brought into the cache: no value, never pushed
    ALU = "alu"               # integer / compare op on streams or immediates


class AluOp(enum.Enum):
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    GE = "ge"
    AND = "and"
    DIV = "div"        # floor division
    MOD = "mod"


@dataclass(frozen=True)
class Stream:
    name: str
    kind: StreamKind
    traversal: str                       # the layer whose iterations produce this stream
    tensor: str | None = None            # LOAD / LOAD_ROW
    index: str | None = None             # LOAD / LOAD_ROW: stream giving the index
    op: AluOp | None = None              # ALU
    operands: tuple[str | int, ...] = () # ALU: stream names, integer immediates or ``$size`` symbols


class Event(enum.Enum):
    ITER = "iter"      # start of an iteration
    END = "end"        # end of an iteration (after its inner layers ran)


@dataclass(frozen=True)
class PushRule:
    traversal: str
    event: Event
    token: str
    pushes: tuple[tuple[str, str], ...] = ()   # (queue, stream) in push order
    when: str | None = None                     # predicate stream; no push and no token where false


class QueueKind(enum.Enum):
    SCALAR = "scalar"
    ROW = "row"        # carries rows: ``entry`` elements per queue entry, or the whole row as one buffer


@dataclass(frozen=True)
class Queue:
    """A queue between access and execute unit. A row pushed into a ROW queue takes ``ceil(width / entry)``
    entries (``entry`` elements each: 1 unvectorized, the vector length once vectorized), or one entry holding
    the whole row when ``entry`` is 0 (bufferized)."""

    name: str
    kind: QueueKind
    dtype: DType
    entry: int = 0


class ReduceKind(enum.Enum):
    SUM = "sum"
    MAX = "max"
    MIN = "min"
    PROD = "prod"


@dataclass(frozen=True)
class Accumulator:
    """Execute-side state. ``vector`` accumulators hold one value per column of ``width``.

    A MAX accumulator may track an argument (the integer that came with the winning value), as embedding
    bags in max mode must report which row gave each column's maximum.
    """

    name: str
    reduce: ReduceKind
    dtype: DType
    width: Dim | None = None             # None: scalar
    init: float = 0.0
    tracks_arg: bool = False
    arg_init: int = -1


class OpKind(enum.Enum):
    POP = "pop"          # result = pop(queue)
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MAX = "max"
    MIN = "min"
    GT = "gt"
    SELECT = "select"    # select(cond, a, b)
    CAST = "cast"        # cast(a) to dtype
    UPDATE = "update"    # accumulator <- reduce(accumulator, a [, arg])
    READ = "read"        # result = accumulator value
    READ_ARG = "read_arg"
    RESET = "reset"      # accumulator = init
    STORE = "store"      # tensor[i] = a           (row store when a is a vector)
    STORE_ADD = "store_add"  # tensor[i] += a, or tensor[i, j] += a; duplicates accumulate
    STORE_MAX = "store_max"  # tensor[i] = max(tensor[i], a); read-modify-write like store_add
    STORE_MIN = "store_min"
    STORE_MUL = "store_mul"
    DOT = "dot"          # sum over the row of a * b
    COUNT = "count"      # result = how many times this callback ran before (an execute-side induction counter)


STORE_KINDS = frozenset({OpKind.STORE, OpKind.STORE_ADD, OpKind.STORE_MAX, OpKind.STORE_MIN, OpKind.STORE_MUL})
# how many operands each execute op of the form ``%x = op a, b`` takes (the verifier holds programs to it)
OPERANDS = {**{op: 2 for op in (OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV, OpKind.MAX, OpKind.MIN, OpKind.GT,
                                OpKind.DOT)},
            OpKind.SELECT: 3, OpKind.CAST: 1}
ALU_OPERANDS = 2        # every AluOp is binary
TRUTH_OPS = (AluOp.EQ, AluOp.NE, AluOp.LT, AluOp.GE, AluOp.AND)    # the alu ops whose values are 0 or 1


@dataclass(frozen=True)
class Instr:
    op: OpKind
    result: str | None = None
    args: tuple[str | float | int, ...] = ()   # value names, immediates
    target: str | None = None                  # queue, accumulator or tensor name
    dtype: DType | None = None                 # CAST


@dataclass(frozen=True)
class Callback:
    """What the execute unit runs for a token. Row operations use ``lanes`` vector lanes (1: scalar code);
    ``unroll`` tokens are dispatched per pass of the execute loop, sharing one dispatch."""

    token: str
    body: tuple[Instr, ...]
    lanes: int = 1
    unroll: int = 1


@dataclass(frozen=True)
class Program:
    name: str
    params: tuple[Param, ...]
    traversals: tuple[Traversal, ...]
    streams: tuple[Stream, ...]
    rules: tuple[PushRule, ...]
    queues: tuple[Queue, ...]
    accumulators: tuple[Accumulator, ...]
    callbacks: tuple[Callback, ...]
    notes: tuple[str, ...] = field(default=())
    # how the device's cores split the outer items (iterations of the outermost traversal units, numbered
    # over all chains): None, one contiguous block per core; k, tiles of k items dealt to the cores in turn
    tile: int | None = None

    def param(self, name: str) -> Param:
        return _by_name(self.params, name, "parameter")

    def stream(self, name: str) -> Stream:
        return _by_name(self.streams, name, "stream")

    def traversal(self, name: str) -> Traversal:
        return _by_name(self.traversals, name, "traversal unit")

    def queue(self, name: str) -> Queue:
        return _by_name(self.queues, name, "queue")

    def accumulator(self, name: str) -> Accumulator:
        return _by_name(self.accumulators, name, "accumulator")

    def callback(self, token: str) -> Callback:
        for cb in self.callbacks:
            if cb.token == token:
                return cb
        raise KeyError(f"program {self.name} has no callback for token {token!r}")

    @property
    def inputs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.is_output)

    @property
    def outputs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.is_output)


def _by_name(items, name, what):
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"no {what} named {name!r}")
