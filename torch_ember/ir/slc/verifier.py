"""SLC verifier: names resolve to something visible where they are used."""
from __future__ import annotations

from dae_emulator.program import STORE_KINDS, OpKind, StreamKind

from .nodes import LoopKind, SlcProgram


class SlcVerifyError(ValueError):
    pass


def verify_slc(p: SlcProgram) -> SlcProgram:
    inputs = {x.name for x in p.params if not x.is_output}
    outputs = {x.name for x in p.params if x.is_output}
    accs = {a.name for a in p.accumulators}
    for fact in p.known:
        param = next((x for x in p.params if x.name == fact.tensor), None)
        if param is None or param.is_output or len(param.shape) != 1:
            raise SlcVerifyError(f"known values of {fact.tensor!r}: it must be a 1-D input")
    for nest in p.nests:
        _verify_nest(nest, inputs, outputs, accs)
    return p


def _verify_nest(nest, inputs, outputs, accs) -> None:
    visible: set[str] = set()
    for loop in nest.loops():
        if loop.kind is LoopKind.RANGE and not {loop.lo, loop.hi} <= visible:
            raise SlcVerifyError(f"loop {loop.var}: bounds {loop.lo}, {loop.hi} must be streams of an outer loop")
        if loop.var in visible:
            raise SlcVerifyError(f"loop variable {loop.var} is defined twice")
        visible.add(loop.var)
        for s in loop.streams:
            if s.name in visible:
                raise SlcVerifyError(f"stream {s.name} is defined twice")
            if s.kind in (StreamKind.LOAD, StreamKind.LOAD_ROW):
                if s.tensor not in inputs:
                    raise SlcVerifyError(f"stream {s.name} loads {s.tensor!r}, which is not an input")
                if s.index not in visible:
                    raise SlcVerifyError(f"stream {s.name} is indexed by {s.index!r}, which is not visible")
            for o in s.operands:
                if isinstance(o, str) and not o.startswith("$") and o not in visible:
                    raise SlcVerifyError(f"stream {s.name} uses {o!r}, which is not visible")
            visible.add(s.name)
        for cb in loop.callbacks:
            if cb.when is not None and cb.when not in visible:
                raise SlcVerifyError(f"callback on {loop.var}.{cb.event.value}: predicate {cb.when!r} is not visible")
            local: set[str] = set()
            for ins in cb.body:
                for a in ins.args:
                    if isinstance(a, str) and a not in visible | local:
                        raise SlcVerifyError(f"callback on {loop.var}.{cb.event.value}: {a!r} is not visible")
                if ins.op in (OpKind.UPDATE, OpKind.READ, OpKind.READ_ARG, OpKind.RESET) and ins.target not in accs:
                    raise SlcVerifyError(f"unknown accumulator {ins.target!r}")
                if ins.op in STORE_KINDS and ins.target not in outputs:
                    raise SlcVerifyError(f"store to {ins.target!r}, which is not an output")
                if ins.result is not None:
                    if ins.result in visible | local:
                        raise SlcVerifyError(f"value {ins.result} shadows a stream or an earlier value")
                    local.add(ins.result)
