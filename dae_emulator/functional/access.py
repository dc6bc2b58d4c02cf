"""The access side, evaluated layer by layer on whole index tensors.

Each traversal layer becomes a set of iterations: for every iteration, its parent iteration, its induction
value and its place in the event order. Streams become one tensor per stream (one entry per iteration of
their layer); a stream of an outer layer is broadcast inward through the parent maps. Every load checks its
addresses before it reads.

A row-load stream of a 2-D table stays a ``RowGather`` (the table and the row indices) until something needs
its rows whole: a callback that only adds the popped rows into a sum accumulator reduces them straight from
the table (see ``execute``), without an (n, width) copy of every row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch

from ..errors import DaeAddressError, DaeRangeError
from ..program import AluOp, Event, Program, StreamKind, TraversalKind
from ..trace import AccessRecord, Side
from ..verify import layer_parents


class RowGather:
    """The rows ``table[index]`` of a row-load stream, gathered only when ``rows()`` is asked for.

    Indexing it (``g[mask]``, ``g[order]``) selects indices, as indexing the gathered rows would select rows.
    """

    def __init__(self, table: torch.Tensor, index: torch.Tensor):
        self.table, self.index = table, index

    def __getitem__(self, key) -> RowGather:
        return RowGather(self.table, self.index[key])

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.index.numel(), *self.table.shape[1:]))

    @property
    def dtype(self) -> torch.dtype:
        return self.table.dtype

    def dim(self) -> int:
        return self.table.dim()

    def element_size(self) -> int:
        return self.table.element_size()

    def row_bytes(self) -> int:
        return self.table[0].numel() * self.table.element_size() if self.table.shape[0] else 0

    def rows(self) -> torch.Tensor:
        return self.table[self.index]


def rows(value: torch.Tensor | RowGather) -> torch.Tensor:
    """A stream's or operand's value as a tensor (gathering a ``RowGather``'s rows)."""
    return value.rows() if isinstance(value, RowGather) else value


@dataclass
class Layer:
    name: str
    parent: torch.Tensor | None     # (n,) index of the enclosing iteration (None: an outermost layer)
    induction: torch.Tensor         # (n,) induction variable value
    iter_event: torch.Tensor | None = None
    end_event: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return self.induction.numel()


_ALU = {
    AluOp.ADD: torch.add, AluOp.SUB: torch.sub, AluOp.MUL: torch.mul, AluOp.EQ: torch.eq, AluOp.NE: torch.ne,
    AluOp.LT: torch.lt, AluOp.GE: torch.ge, AluOp.AND: torch.logical_and, AluOp.DIV: torch.floor_divide,
    AluOp.MOD: torch.remainder,
}


class AccessRun:
    """Evaluates a program's access configuration against bound inputs."""

    def __init__(self, program: Program, tensors: dict[str, torch.Tensor], sizes: dict[str, int],
                 addresses: dict[str, int]):
        self.program, self.tensors, self.sizes, self.base = program, tensors, sizes, addresses
        self.parent_layer = layer_parents(program)          # by layer index, in program order
        self.depth = {t.name: i for i, t in enumerate(program.traversals)}
        self.layers: list[Layer] = []
        self.values: dict[str, torch.Tensor] = {}
        self.stream_depth: dict[str, int] = {}
        self.records: list[AccessRecord] = []

    def run(self) -> None:
        for t in self.program.traversals:
            self._add_layer(t)
            for s in self.program.streams:
                if s.traversal == t.name:
                    self._eval_stream(s)
        self._number_events()

    # -- layers ------------------------------------------------------------------------------------------
    def _add_layer(self, t) -> None:
        device = next(iter(self.tensors.values())).device
        if t.parent is None:
            n = self._extent(t.extent)
            self.layers.append(Layer(t.name, None, torch.arange(n, device=device)))
            return
        outer_index = self.depth[t.parent]
        outer = self.layers[outer_index]
        if t.kind is TraversalKind.DENSE:
            extent = self._extent(t.extent)
            counts = torch.full((outer.size,), extent, dtype=torch.int64, device=device)
            start = torch.zeros(outer.size, dtype=torch.int64, device=device)
        else:
            start = self.at_layer(t.lo, outer_index).long()
            counts = self.at_layer(t.hi, outer_index).long() - start
            if counts.numel() and counts.min() < 0:
                bad = int(torch.nonzero(counts < 0)[0])
                raise DaeRangeError(t.name, bad, int(start[bad]), int(start[bad] + counts[bad]))
        parent = torch.repeat_interleave(torch.arange(outer.size, device=device), counts)
        first = torch.cumsum(counts, 0) - counts
        induction = start[parent] + torch.arange(parent.numel(), device=device) - first[parent]
        self.layers.append(Layer(t.name, parent, induction))

    def _extent(self, dim) -> int:
        return (self.sizes[dim.symbol] if dim.symbol else 0) + dim.offset

    def ancestor_map(self, from_depth: int, to_depth: int) -> torch.Tensor | None:
        """For each iteration at ``to_depth``, its enclosing iteration at ``from_depth`` (None: identity)."""
        mapping, d = None, to_depth
        while d != from_depth:
            parent = self.layers[d].parent
            mapping = parent if mapping is None else parent[mapping]
            d = self.parent_layer[d]
        return mapping

    def at_layer(self, stream: str, depth: int, *, lazy: bool = False) -> torch.Tensor | RowGather:
        """``stream``'s value for every iteration at ``depth``; ``lazy``: a row load may stay a ``RowGather``."""
        value = self.values[stream]
        mapping = self.ancestor_map(self.stream_depth[stream], depth)
        value = value if mapping is None else value[mapping]
        return value if lazy else rows(value)

    # -- streams -----------------------------------------------------------------------------------------
    def _eval_stream(self, s) -> None:
        depth = self.depth[s.traversal]
        if s.kind is StreamKind.INDUCTION:
            value = self.layers[depth].induction
        elif s.kind is StreamKind.ALU:
            args = [o if isinstance(o, int) else self.sizes[o[1:]] if o.startswith("$") else self.at_layer(o, depth)
                    for o in s.operands]
            value = _ALU[s.op](*args)
        else:
            index = self.at_layer(s.index, depth).long()
            table = self.tensors[s.tensor]
            check_addresses(f"stream {s.name}", s.tensor, index, table.shape[0])
            if s.kind is StreamKind.LOAD_ROW:
                value = RowGather(table, index) if table.dim() == 2 else table[index]
            elif s.kind is StreamKind.PREFETCH_ROW:
                value = index                 # no data: the rows' lines only come into the cache
            else:
                value = table.index_select(0, index)
            row_bytes = table.element_size() * (table.shape[1] if table.dim() == 2 else 1)
            self.records.append(AccessRecord(
                stream=s.name, tensor=s.tensor, side=Side.ACCESS, is_write=False,
                is_row=s.kind is not StreamKind.LOAD, nbytes=row_bytes,
                event=torch.empty(0, dtype=torch.int64), address=self.base[s.tensor] + index * row_bytes,
                prefetch=s.kind is StreamKind.PREFETCH_ROW))
        self.values[s.name] = value
        self.stream_depth[s.name] = depth

    # -- events ------------------------------------------------------------------------------------------
    def _number_events(self) -> None:
        """Give every iteration an ITER and an END event id in the order one core would issue them: chains
        one after another, each iteration's inner iterations between its ITER and END events. Outer
        iterations of all chains are numbered together as the work items cores split.

        Compiled loops over numpy views of the layers: the tensor expressions this replaced made a dozen
        temporaries per layer, each fresh pages to fault in."""
        parents = [None if layer.parent is None else layer.parent.numpy() for layer in self.layers]
        sizes = [np.full(layer.size, 2, dtype=np.int64) for layer in self.layers]   # an ITER and an END each
        for d in range(len(self.layers) - 1, -1, -1):
            if self.parent_layer[d] is not None:
                _add_at(sizes[self.parent_layer[d]], parents[d], sizes[d])
        next_event, item_sizes = 0, []
        for d, layer in enumerate(self.layers):
            outer = self.parent_layer[d]
            start = np.empty(layer.size, dtype=np.int64)
            if outer is None:
                next_event = _number_items(sizes[d], next_event, start)
                item_sizes.append(sizes[d])
            else:
                _number_inner(parents[d], sizes[d], self.layers[outer].iter_event.numpy(), start)
            layer.iter_event, layer.end_event = torch.from_numpy(start), torch.from_numpy(start + sizes[d] - 1)
        self.num_events = next_event
        item_sizes = np.concatenate(item_sizes)
        self.num_items = item_sizes.size
        self.event_item = torch.from_numpy(np.repeat(np.arange(self.num_items), item_sizes))
        self.records = [self._with_events(r) for r in self.records]

    def _with_events(self, record: AccessRecord) -> AccessRecord:
        depth = self.stream_depth[record.stream]
        return AccessRecord(record.stream, record.tensor, record.side, record.is_write, record.is_row,
                            record.nbytes, self.layers[depth].iter_event, record.address, record.prefetch)

    def events(self, traversal: str, event: Event) -> torch.Tensor:
        layer = self.layers[self.depth[traversal]]
        return layer.iter_event if event is Event.ITER else layer.end_event


def check_addresses(what: str, tensor: str, index: torch.Tensor, size: int) -> None:
    """Raise ``DaeAddressError`` for the first index outside ``[0, size)``."""
    if index.numel() == 0:
        return
    low, high = torch.aminmax(index)       # one pass; the first bad position is looked for only on failure
    if int(low) < 0 or int(high) >= size:
        bad = (index < 0) | (index >= size)
        position = int(torch.nonzero(bad)[0])
        raise DaeAddressError(what, tensor, int(index[position]), size, position)


@numba.njit(cache=True, nogil=True, _nrt=False)
def _add_at(total: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    for i in range(index.size):
        total[index[i]] += values[i]


@numba.njit(cache=True, nogil=True, _nrt=False)
def _number_items(sizes: np.ndarray, first: int, start: np.ndarray) -> int:
    """Outer iterations one after another from event ``first``; returns the event after the last."""
    for i in range(sizes.size):
        start[i] = first
        first += sizes[i]
    return first


@numba.njit(cache=True, nogil=True, _nrt=False)
def _number_inner(parent: np.ndarray, sizes: np.ndarray, parent_iter: np.ndarray, start: np.ndarray) -> None:
    """Inner iterations (grouped by their parent, in order) one after another, from the event after their
    parent's ITER event."""
    previous, offset = -1, 0
    for i in range(parent.size):
        if parent[i] != previous:
            previous, offset = parent[i], 0
        start[i] = parent_iter[parent[i]] + 1 + offset
        offset += sizes[i]
