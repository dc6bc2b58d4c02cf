"""Region spec -> SLC: one builder per op family, chosen by region kind."""
from __future__ import annotations

from dataclasses import replace

from dae_emulator.program import DType

from ...ir.slc import Arange, SlcProgram, verify_slc
from ...region_spec import RegionKind, RegionSpec
from ...transforms.slc.batch import batch
from .embedding import build_embedding, build_embedding_backward
from .embedding_bag import build_embedding_bag
from .embedding_bag_backward import build_bag_backward, build_bag_max_backward, build_bag_weights_backward
from .finish import build_finish_rows
from .segment import build_segment_products, build_segment_reduce, build_segment_reduce_backward, build_segment_ties
from .gather_scatter import (
    build_gather_elements, build_gather_scatter, build_scatter_elements, build_scatter_rows,
)

_BUILDERS = {
    RegionKind.EMBEDDING_BAG: build_embedding_bag,
    RegionKind.EMBEDDING: build_embedding,
    RegionKind.EMBEDDING_BACKWARD: build_embedding_backward,
    RegionKind.EMBEDDING_BAG_BACKWARD: build_bag_backward,
    RegionKind.EMBEDDING_BAG_MAX_BACKWARD: build_bag_max_backward,
    RegionKind.EMBEDDING_BAG_WEIGHTS_BACKWARD: build_bag_weights_backward,
    RegionKind.GATHER_ROWS: build_embedding,
    RegionKind.SCATTER_ROWS: build_scatter_rows,
    RegionKind.GATHER_SCATTER: build_gather_scatter,
    RegionKind.GATHER_ELEMENTS: build_gather_elements,
    RegionKind.SCATTER_ELEMENTS: build_scatter_elements,
    RegionKind.SEGMENT_REDUCE: build_segment_reduce,
    RegionKind.SEGMENT_REDUCE_BACKWARD: build_segment_reduce_backward,
    RegionKind.SEGMENT_TIES: build_segment_ties,
    RegionKind.SEGMENT_PRODUCTS: build_segment_products,
    RegionKind.FINISH_ROWS: build_finish_rows,
}


def region_to_slc(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """The SLC program for ``spec`` with parameter dtypes ``dtypes`` (by parameter name); a batched region's
    parts are built alone and batched (their parameters carry the parts' ``t{k}_`` prefixes). What the
    spec knows about input values (``spec.arange``) becomes the program's ``known`` facts."""
    if spec.kind is RegionKind.BATCHED:
        dtypes = {**dtypes, **{alias: dtypes[of] for alias, of in spec.shared if of in dtypes}}  # passed once
        parts = []
        for k, part in enumerate(spec.parts):
            prefix = RegionSpec.prefix(k)
            part_dtypes = {n[len(prefix):]: t for n, t in dtypes.items() if n.startswith(prefix)}
            parts.append(region_to_slc(part, part_dtypes))
        return batch(parts, spec.name, shared=spec.shared, same_length=spec.same_length)
    program = _BUILDERS[spec.kind](spec, dtypes)
    return verify_slc(replace(program, known=tuple(Arange(*fact) for fact in spec.arange)))
