"""How far each index of a program can reach: a static range check over size symbols.

An extent is an exclusive upper bound, as a ``Dim`` (``num_rows``, ``num_indices + 1``, ``8``); None where
nothing is known. A dense unit's induction reaches below its extent; a range unit's below its ``hi``'s
less one; an element load of an integer input below that input's value bound, when the caller knows one
(a task's index input is drawn below its table's rows, its offsets up to the number of indices). ``add``
and ``sub`` of a constant move an extent, ``mod`` sets one, a comparison reaches below 2; any other op is
unknown. Each bound is reached for some sizes and inputs, so an index whose extent does not ``fit`` a
dimension (another size symbol, the same one with more added, a constant above 1 for a size) is out of
range for some input: the program is wrong for the task, whatever it does after. Unknown extents fit
anything.
"""
from __future__ import annotations

from collections.abc import Mapping

from .program import TRUTH_OPS, AluOp, Dim, OpKind, Program, StreamKind, TraversalKind

Extent = Dim | None


def fits(extent: Extent, dim: Dim) -> bool:
    """Whether indices below ``extent`` stay inside a dimension of size ``dim`` for every binding of the
    size symbols: a size symbol may be smaller than any constant but 1 (index 0 of an empty dimension is
    never reached: nothing walks it)."""
    if extent is None:
        return True
    if extent.symbol is None and dim.symbol is not None:
        return extent.offset <= 1
    return extent.symbol == dim.symbol and extent.offset <= dim.offset


def _shift(extent: Extent, by: int) -> Extent:
    return None if extent is None else Dim(extent.symbol, extent.offset + by)


def stream_extents(p: Program, value_bounds: Mapping[str, Dim]) -> dict[str, Extent]:
    """Each stream's extent (streams in definition order, as a parsed program holds them)."""
    units: dict[str, Extent] = {}
    out: dict[str, Extent] = {}
    for t in p.traversals:
        units[t.name] = t.extent if t.kind is TraversalKind.DENSE else None
    for s in p.streams:
        if s.kind is StreamKind.INDUCTION:
            t = p.traversal(s.traversal)
            out[s.name] = units[t.name] if t.kind is TraversalKind.DENSE else _shift(out.get(t.hi), -1)
        elif s.kind is StreamKind.LOAD:
            out[s.name] = value_bounds.get(s.tensor)
        elif s.kind is StreamKind.ALU:
            out[s.name] = _alu_extent(s.op, s.operands, out)
        else:
            out[s.name] = None
    return out


def _alu_extent(op: AluOp, operands, known: Mapping[str, Extent]) -> Extent:
    if op in TRUTH_OPS:
        return Dim(None, 2)
    a, b = operands[0], operands[-1]
    if op is AluOp.MOD and isinstance(b, int) and b > 0:
        return Dim(None, b)
    if op is AluOp.MOD and isinstance(b, str) and b.startswith("$"):
        return Dim(b[1:], 0)
    if op in (AluOp.ADD, AluOp.SUB) and isinstance(a, str) and isinstance(b, int) and not a.startswith("$"):
        return _shift(known.get(a), b if op is AluOp.ADD else -b)
    if op is AluOp.ADD and isinstance(a, int) and isinstance(b, str) and not b.startswith("$"):
        return _shift(known.get(b), a)
    return None


def value_extents(p: Program, callback, streams: Mapping[str, Extent]) -> dict[str, Extent]:
    """The extents of the values ``callback`` pops: a queue's is its streams' where every rule pushing it
    pushes streams of one extent; ``count``'s is the outermost loop's where only unguarded rules of that
    dense loop send the token (once an iteration: the count is the iteration's number); computed values
    are unknown."""
    pushed: dict[str, set] = {}
    for r in p.rules:
        for q, s in r.pushes:
            pushed.setdefault(q, set()).add(streams.get(s))
    senders = [p.traversal(r.traversal) for r in p.rules if r.token == callback.token]
    once = len(senders) == 1 and senders[0].parent is None and senders[0].kind is TraversalKind.DENSE
    once = once and all(r.when is None for r in p.rules if r.token == callback.token)
    out = {}
    for i in callback.body:
        if i.op is OpKind.POP and len(pushed.get(i.target, ())) == 1:
            out[i.result] = next(iter(pushed[i.target]))
        elif i.op is OpKind.COUNT and once:
            out[i.result] = senders[0].extent
    return out
