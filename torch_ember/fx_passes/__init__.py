"""The fx passes, in order: from an ATen graph to one with ``ember::region`` calls (as ``pipeline`` lists
the IR passes). Every pass takes and gives a ``LoweringState``."""
from __future__ import annotations

from .canonicalize import canonicalize
from .compile_programs import compile_programs
from .fuse import batch_embedding_bags, batch_gathers, fuse_epilogues, fuse_message_passing
from .known_values import find_known_values
from .match import match_regions
from .partition import partition
from .sparse_mm import rewrite_sparse_mm
from .state import FxPass, GraphKind, LoweringState

FX_PASSES: tuple[FxPass, ...] = (
    rewrite_sparse_mm,        # sparse @ dense products become embedding bags
    canonicalize,             # one ATen form per lookup (take, put, broadcast scatters, new_* fills)
    match_regions,            # the lookups the registry lowers; the others stay on the host, with reasons
    find_known_values,        # indices made by torch.arange: arithmetic instead of loads
    fuse_message_passing,     # a gather feeding a scatter: one gather_scatter region
    fuse_epilogues,           # a ReLU or constant scale after a region runs inside it
    batch_embedding_bags,     # a graph's forward bags: one launch
    batch_gathers,            # row gathers through index tensors of one length: one launch
    compile_programs,         # each region's DAE program, for its inputs' dtypes
    partition,                # each match becomes an ember::region call
)


def run_fx_passes(state: LoweringState) -> LoweringState:
    for fx_pass in FX_PASSES:
        state = fx_pass(state)
    return state


__all__ = ["FX_PASSES", "GraphKind", "LoweringState", "run_fx_passes"]
