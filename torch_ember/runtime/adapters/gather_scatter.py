"""Row gathers, row scatters, message passing, and element gathers and scatters along any dimension.

Scatter regions return the scattered aggregate and, where needed, a contribution count; ``combine``
merges them with the destination's old value the way the ATen op defines (``include_self``, ``alpha``,
mean division), as elementwise host work after the region."""
from __future__ import annotations

import dataclasses
import math

import torch

from ...region_spec import Reduction, RegionKind, RegionSpec, SourceOp
from .base import (AdapterDefaults, aten, check_range, check_same_dtype, gather_index_error, rows,
                   scatter_index_error)

def combine(spec: RegionSpec, self: torch.Tensor, agg: torch.Tensor, count: torch.Tensor | None) -> torch.Tensor:
    """The ATen op's result from the destination's old value and the region's aggregate."""
    agg = agg.reshape(self.shape)
    if count is not None:  # one count per destination element, or per destination row
        shape = self.shape if count.numel() == self.numel() else count.shape + (1,) * (self.dim() - 1)
        count = count.reshape(shape).to(agg.dtype)
    if spec.reduce is Reduction.SUM and spec.include_self:
        return self + agg * spec.alpha if spec.alpha != 1.0 else self + agg
    touched = None if count is None else count > 0
    if spec.reduce is Reduction.MEAN:
        if spec.include_self:
            return (self + agg) / (count + 1)
        return torch.where(touched, agg / count.clamp(min=1), self)
    merged = {Reduction.SUM: torch.add, Reduction.PROD: torch.mul, Reduction.MAX: torch.maximum,
              Reduction.MIN: torch.minimum}[spec.reduce]
    if spec.include_self:
        return merged(self, agg.to(self.dtype))
    return torch.where(touched, agg.to(self.dtype), self)


class GatherRowsAdapter(AdapterDefaults):
    """``index_select(x, 0, index)`` and ``x[index]``: rows of ``x`` viewed as a 2-D table."""

    @staticmethod
    def program_inputs(spec, args):
        x, index = args
        error = gather_index_error(spec.op, x)
        if error is None:       # rows of width zero, which x[index] does not read: any row will do
            index = torch.zeros_like(index)
        index = check_range(spec, index, x.shape[0], 0, error or IndexError, wraps=spec.op.wraps)
        return {"table": rows(x), "indices": index.reshape(-1)}

    @staticmethod
    def finish(spec, args, outputs):
        x, index = args
        rows = (index.numel(),) if spec.op is SourceOp.INDEX_SELECT else index.shape   # index_select: a 0-d index is one
        return [outputs["out"].reshape(*rows, *x.shape[1:])]

    @staticmethod
    def reference(spec, args):
        x, index = args
        selects = spec.op in (SourceOp.INDEX_SELECT, SourceOp.GATHER)     # no index counts from the end
        return [aten.index_select(x, 0, index) if selects else aten.index.Tensor(x, [index])]



class ScatterRowsAdapter(AdapterDefaults):
    """``index_add``, ``index_put(accumulate=True)``, ``index_reduce`` and row-broadcast ``scatter_add`` /
    ``scatter_reduce`` along dimension 0. Arguments: ``self, index (1-D), src`` [, ``weights``]."""

    @staticmethod
    def program_inputs(spec, args):
        self, index, src = args[:3]
        check_same_dtype(spec, self, src)
        index = check_range(spec, index, self.shape[0], 0, scatter_index_error(spec.op, self), wraps=spec.op.wraps)
        inputs = {"src": rows(src, index.numel()) if index.numel() else src.reshape(0, math.prod(self.shape[1:])),
                  "indices": index.reshape(-1)}
        if len(args) > 3:
            inputs["weights"] = args[3]
        return inputs

    @staticmethod
    def sizes(spec, args):
        return {"num_out": args[0].shape[0]}

    @staticmethod
    def finish(spec, args, outputs):
        return [combine(spec, args[0], outputs["out"], outputs.get("count"))]

    @staticmethod
    def reference(spec, args):
        self, index, src = args[:3]
        if spec.op is SourceOp.INDEX_PUT:
            return [aten.index_put(self, [index], src, True)]
        if spec.op in (SourceOp.SCATTER_ADD, SourceOp.SCATTER_REDUCE):
            spread = index.reshape(-1, *([1] * (src.dim() - 1))).expand_as(src)
            if spec.op is SourceOp.SCATTER_ADD:
                return [aten.scatter_add(self, 0, spread, src)]
            return [aten.scatter_reduce.two(self, 0, spread, src, spec.reduce.scatter_name,
                                            include_self=spec.include_self)]
        if spec.op is SourceOp.INDEX_REDUCE:
            return [aten.index_reduce(self, 0, index, src, spec.reduce.scatter_name, include_self=spec.include_self)]
        return [aten.index_add(self, 0, index, src, alpha=spec.alpha)]



class GatherScatterAdapter(AdapterDefaults):
    """Fused message passing. Arguments: ``x, src, dst, self`` [, ``weights`` (one per edge)]."""

    @staticmethod
    def program_inputs(spec, args):
        x, src, dst, self = args[:4]
        src = check_range(spec, src, x.shape[0], 0, gather_index_error(spec.gathered_by, x) or IndexError,
                          wraps=spec.gathered_by.wraps)
        dst = check_range(spec, dst, self.shape[0], 0, scatter_index_error(spec.op, self), wraps=spec.op.wraps)
        inputs = {"table": rows(x), "src": src.reshape(-1), "dst": dst.reshape(-1)}
        if len(args) > 4:
            inputs["weights"] = args[4].reshape(-1)
        return inputs

    @staticmethod
    def sizes(spec, args):
        return {"num_out": args[3].shape[0]}

    @staticmethod
    def finish(spec, args, outputs):
        return [combine(spec, args[3], outputs["out"], outputs.get("count"))]

    @staticmethod
    def reference(spec, args):
        x, src, dst, self = args[:4]
        if spec.gathered_by.wraps:          # x[src]: an index in [-rows, 0) counts from the end
            src = torch.where(src < 0, src + x.shape[0], src)
        if spec.op.wraps:                   # index_put(accumulate=True) likewise
            dst = torch.where(dst < 0, dst + self.shape[0], dst)
        messages = aten.index_select(x, 0, src)
        if len(args) > 4:
            messages = messages * args[4].reshape(-1, *([1] * (x.dim() - 1)))
        if spec.reduce is Reduction.SUM and spec.include_self:
            return [aten.index_add(self, 0, dst, messages)]
        return [aten.index_reduce(self, 0, dst, messages, spec.reduce.scatter_name, include_self=spec.include_self)]



def _element_sizes(spec: RegionSpec, data_shape, index_shape) -> dict[str, int]:
    inner = math.prod(data_shape[spec.axis + 1:])
    return {"inner": inner, "k_inner": index_shape[spec.axis] * inner, "n_inner": data_shape[spec.axis] * inner}


class GatherElementsAdapter(AdapterDefaults):
    """``gather(x, axis, index)`` with ``index`` shaped like ``x`` except along ``axis``."""

    @staticmethod
    def specialize(spec, args):
        """A 2-D index broadcast over the columns (stride 0, as autograd saves ``idx.view(-1, 1).expand(...)``
        for the backward of a row scatter) gathers whole rows: run the row program instead."""
        x, index = args
        if (spec.axis == 0 and index.dim() == 2 and x.dim() == 2 and index.stride(1) == 0
                and index.shape[1] == x.shape[1] > 0):
            return dataclasses.replace(spec, kind=RegionKind.GATHER_ROWS, op=SourceOp.GATHER), [x, index[:, 0]]
        return spec, args

    @staticmethod
    def program_inputs(spec, args):
        x, index = args
        check_range(spec, index, x.shape[spec.axis], spec.axis, RuntimeError)
        return {"data": x.reshape(-1), "index": index.reshape(-1)}

    @staticmethod
    def sizes(spec, args):
        return _element_sizes(spec, args[0].shape, args[1].shape)

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["out"].reshape(args[1].shape)]

    @staticmethod
    def reference(spec, args):
        return [aten.gather(args[0], spec.axis, args[1])]



class ScatterElementsAdapter(AdapterDefaults):
    """``scatter_add`` / ``scatter_reduce`` along ``axis``; arguments ``self, index, src`` (``src`` shaped
    like ``index``, ``index`` like ``self`` except along ``axis``)."""

    @staticmethod
    def program_inputs(spec, args):
        self, index, src = args
        check_range(spec, index, self.shape[spec.axis], spec.axis, RuntimeError)
        return {"src": src.reshape(-1), "index": index.reshape(-1)}

    @staticmethod
    def sizes(spec, args):
        return {**_element_sizes(spec, args[0].shape, args[1].shape), "numel_out": args[0].numel()}

    @staticmethod
    def finish(spec, args, outputs):
        return [combine(spec, args[0], outputs["out"], outputs.get("count"))]

    @staticmethod
    def reference(spec, args):
        self, index, src = args
        if spec.op is SourceOp.SCATTER_ADD:
            return [aten.scatter_add(self, spec.axis, index, src)]
        return [aten.scatter_reduce.two(self, spec.axis, index, src, spec.reduce.scatter_name,
                                        include_self=spec.include_self)]

