"""``python -m torch_ember.ir WORKLOAD --level N``: print every IR stage of a workload's region, so a reader
sees what each pass did (the pipeline's own debug log, sent to standard output)."""
from __future__ import annotations

import argparse
import logging
import sys

import dae_emulator
from dae_emulator.program import DType

from ..options import Knobs
from ..pipeline import compile_region
from ..region_spec import BagMode, Reduction, RegionKind, RegionSpec, SegmentBounds, SourceOp

_F, _I = DType.F32, DType.I64
WORKLOADS = {
    "eb": (RegionSpec(RegionKind.EMBEDDING_BAG, "table", BagMode.SUM, has_weights=True),
           dict(table=_F, indices=_I, offsets=_I, weights=_F), "weighted sum embedding bag (DLRM)"),
    "eb-mean": (RegionSpec(RegionKind.EMBEDDING_BAG, "table", BagMode.MEAN, padding_idx=0),
                dict(table=_F, indices=_I, offsets=_I), "mean embedding bag with a padding row"),
    "eb-max": (RegionSpec(RegionKind.EMBEDDING_BAG, "table", BagMode.MAX),
               dict(table=_F, indices=_I, offsets=_I), "max embedding bag"),
    "eb-backward": (RegionSpec(RegionKind.EMBEDDING_BAG_BACKWARD, "table", BagMode.SUM, num_weights=1000),
                    dict(grad=_F, indices=_I, offsets=_I), "embedding bag gradient (scatter-add)"),
    "mp": (RegionSpec(RegionKind.GATHER_SCATTER, "x", op=SourceOp.INDEX_ADD, gathered_by=SourceOp.INDEX_SELECT,
                            fused=("index_select", "mul", "index_add")),
           dict(table=_F, src=_I, dst=_I, weights=_F), "message passing, GCN-style (SpMM)"),
    "gather": (RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp.INDEX_SELECT), dict(table=_F, indices=_I),
               "row gather (MoE dispatch, x[index])"),
    "scatter-max": (RegionSpec(RegionKind.SCATTER_ROWS, "x", reduce=Reduction.MAX, include_self=False, op=SourceOp.INDEX_REDUCE),
                    dict(src=_F, indices=_I), "row scatter with max (GraphSAGE max)"),
    "segment": (RegionSpec(RegionKind.SEGMENT_REDUCE, "x", reduce=Reduction.MEAN, bounds=SegmentBounds.LENGTHS),
                dict(data=_F, offsets=_I), "segment mean over contiguous rows"),
    "kg": (RegionSpec(RegionKind.BATCHED, "entity..entity",
                      parts=tuple(RegionSpec(RegionKind.GATHER_ROWS, t, op=SourceOp.INDEX) for t in ("entity", "relation", "entity")),
                      shared=(("t2_table", "t0_table"),),
                      same_length=(("t1_indices", "t0_indices"), ("t2_indices", "t0_indices"))),
           dict(t0_table=_F, t0_indices=_I, t1_table=_F, t1_indices=_I, t2_indices=_I),
           "knowledge-graph lookups: head, relation and tail rows over one iteration space"),
    "spattn": (RegionSpec(RegionKind.EMBEDDING_BAG, "keys", BagMode.SUM, arange=(("offsets", 0, 4),)),
               dict(table=_F, indices=_I, offsets=_I), "bags of 4 rows each (F.embedding_bag of a 2-D input)"),
    "pos": (RegionSpec(RegionKind.EMBEDDING, "pos", arange=(("indices", 0, 1),)), dict(table=_F, indices=_I),
            "positional embedding: rows at torch.arange(n)"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torch_ember.ir", description=__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS), help="; ".join(f"{k}: {v[2]}" for k, v in WORKLOADS.items()))
    parser.add_argument("--level", type=int, choices=range(4), default=3)
    parser.add_argument("--device", default=next(iter(dae_emulator.PRESETS)))
    parser.add_argument("--vector-width", type=int, default=None)
    parser.add_argument("--unroll", type=int, default=Knobs().unroll)
    parser.add_argument("--tile", type=int, default=None, help="cores take outer items in tiles of this many")
    args = parser.parse_args(argv)
    spec, dtypes, _ = WORKLOADS[args.workload]
    logger = logging.getLogger("torch_ember")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("=== %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        compile_region(spec, dtypes, dae_emulator.preset(args.device), args.level,
                       Knobs(vector_width=args.vector_width, unroll=args.unroll, tile=args.tile))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
