"""Several regions in one launch (``RegionKind.BATCHED``): each part's adapter does its own work."""
from __future__ import annotations

import torch

from ...region_spec import RegionKind, RegionSpec
from .base import AdapterDefaults, RegionAdapter

def _arity(part: RegionSpec) -> int:
    if part.kind is RegionKind.EMBEDDING_BAG:
        return 3 + part.has_weights
    if part.kind in (RegionKind.EMBEDDING, RegionKind.GATHER_ROWS):
        return 2
    raise ValueError(f"regions of kind {part.kind.value} are not batched")


def _split(spec: RegionSpec, args: list) -> list[list]:
    """Each part's own arguments out of the batched region's concatenated list."""
    parts, start = [], 0
    for part in spec.parts:
        parts.append(list(args[start:start + _arity(part)]))
        start += _arity(part)
    return parts


class BatchedAdapter(AdapterDefaults):
    """Several regions in one launch: each part's adapter (from ``parts``, the registry) does its own work,
    under the part's prefix."""

    def __init__(self, parts: dict[RegionKind, RegionAdapter]) -> None:
        self.parts = parts

    def program_inputs(self, spec, args):
        inputs = {}
        for k, (part, part_args) in enumerate(zip(spec.parts, _split(spec, args))):
            part_inputs = self.parts[part.kind].program_inputs(part, part_args)
            inputs.update({RegionSpec.prefix(k) + name: t for name, t in part_inputs.items()})
        for alias, of in spec.shared:           # one tensor, passed once
            a, b = inputs.pop(alias), inputs[of]
            same = (a.data_ptr(), a.shape, a.stride(), a.dtype) == (b.data_ptr(), b.shape, b.stride(), b.dtype)
            if not same and not (a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)):
                # (an index whose negative values were wrapped is a new tensor with the same values)
                raise ValueError(f"region {spec.name}: inputs {alias} and {of} were compiled as one tensor")
        return inputs

    def finish(self, spec, args, outputs):
        results = []
        for k, (part, part_args) in enumerate(zip(spec.parts, _split(spec, args))):
            prefix = RegionSpec.prefix(k)
            mine = {name[len(prefix):]: t for name, t in outputs.items() if name.startswith(prefix)}
            results += self.parts[part.kind].finish(part, part_args, mine)
        return results

    def reference(self, spec, args):
        return [t for part, part_args in zip(spec.parts, _split(spec, args))
                for t in self.parts[part.kind].reference(part, part_args)]
