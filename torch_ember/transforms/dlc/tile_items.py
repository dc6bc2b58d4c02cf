"""Work tiling (DLC level, access side): the device's cores take the launch's outer items (bags, edges,
rows: iterations of the outermost traversal units, numbered over all of a batched region's tables) in tiles
of ``items``, dealt in turn, instead of one contiguous block each.

One block per core is best when every item costs the same: each core walks neighbouring items, whose
offsets and indices share cache lines. When items differ (bags of uneven length, the tables of a batched
region with different pooling factors), a core whose block holds the long ones finishes last while the
others wait; small tiles spread them, at the price of lines shared between cores, and tiles too large for
the launch leave cores without work. Which size wins depends on the data, so it is a tuned knob.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.dlc import DlcProgram, verify_dlc


def tile_items(p: DlcProgram, *, items: int) -> DlcProgram:
    if not isinstance(items, int) or items < 1:
        raise ValueError(f"a tile must hold at least one item, got {items!r}")
    return verify_dlc(replace(p, access=replace(p.access, tile=items)))
