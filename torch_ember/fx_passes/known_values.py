"""Known values: an index or offsets tensor that the graph itself makes with ``torch.arange`` holds values
known at compile time, and the region's spec records them (``RegionSpec.arange``) for the SLC passes that
use them (``fixed_trip_count``, ``sequential_loads``); the launch checks them again.

Two patterns are common: positional embeddings, ``emb(torch.arange(seq_len))``, gather rows at
sequential indices; and ``F.embedding_bag`` of a 2-D input (bags that all hold ``k`` rows: block-sparse
attention's k picks, fixed-size feature lists) builds its offsets as ``torch.arange(0, numel, k)``.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.fx

from ..region_spec import RegionKind
from .match import RegionMatch
from .registry_base import INTEGERS, meta, same_size
from .state import on_matches

aten = torch.ops.aten
_ARANGES = (aten.arange.default, aten.arange.start, aten.arange.start_step)


def arange_of(node) -> tuple[int, int] | None:
    """(start, step) when ``node`` is an integer ``torch.arange`` with constant start and step, else None."""
    if not isinstance(node, torch.fx.Node) or node.op != "call_function" or node.target not in _ARANGES:
        return None
    value = meta(node)
    if value is None or value.dtype not in INTEGERS or value.dim() != 1:
        return None
    if node.target is aten.arange.default:
        start, step = 0, 1
    else:
        start = node.args[0]
        step = node.args[2] if len(node.args) > 2 else node.kwargs.get("step", 1)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, step)):
        return None
    return start, step


def _facts(m: RegionMatch) -> tuple[tuple[str, int, int], ...]:
    facts = []
    index = arange_of(m.args[1])
    if index is not None and index[0] >= 0 and index[1] >= 1:      # rows at start, start + step, ...
        facts.append(("indices", *index))
    if m.spec.kind is RegionKind.EMBEDDING_BAG:
        offsets = arange_of(m.args[2])
        if offsets is not None and offsets[0] == 0 and offsets[1] >= 1:
            # the launch appends the index count as the last offset unless the graph included it
            count, given = meta(m.args[1]).numel(), meta(m.args[2]).shape[0]
            if m.spec.include_last_offset or same_size(count, offsets[1] * given):
                facts.append(("offsets", *offsets))
    return tuple(facts)


_KINDS = (RegionKind.EMBEDDING, RegionKind.GATHER_ROWS, RegionKind.EMBEDDING_BAG)


@on_matches
def find_known_values(matches: list[RegionMatch]) -> list[RegionMatch]:
    found = []
    for m in matches:
        facts = _facts(m) if m.spec.kind in _KINDS else ()
        found.append(dataclasses.replace(m, spec=dataclasses.replace(m.spec, arange=facts)) if facts else m)
    return found
