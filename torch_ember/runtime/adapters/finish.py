"""A row scatter's finishing program (``RegionSpec.finish_rows``): combine and epilogue on the device."""
from __future__ import annotations

from .base import AdapterDefaults, rows
from .gather_scatter import combine


class FinishRowsAdapter(AdapterDefaults):
    """A row scatter's finishing pass (see ``conversion.fx_to_slc.finish``). Arguments: the destination's
    old value, the scatter program's aggregate [, its contribution counts]."""

    @staticmethod
    def program_inputs(spec, args):
        old, agg = args[:2]
        inputs = {"old": rows(old), "agg": agg.reshape(old.shape[0], -1) if old.shape[0] else rows(old)}
        if len(args) > 2:
            inputs["count"] = args[2]
        return inputs

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["out"].reshape(args[0].shape)]

    @staticmethod
    def reference(spec, args):
        return [combine(spec, args[0], args[1], args[2] if len(args) > 2 else None)]

