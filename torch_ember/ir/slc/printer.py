"""SLC as readable text: loops as ``for`` blocks, streams as assignments, callbacks as ``on`` blocks."""
from __future__ import annotations

from dae_emulator.program import StreamKind
from dae_emulator.text import format_instr

from .nodes import LoopKind, SlcLoop, SlcProgram


def _stream(s) -> str:
    if s.kind is StreamKind.LOAD:
        return f"{s.name} = load {s.tensor}[{s.index}]"
    if s.kind is StreamKind.LOAD_ROW:
        shape = "buffer" if s.vector == 0 else f"vector {s.vector}" if s.vector > 1 else "scalars"
        return f"{s.name} = load {s.tensor}[{s.index}, :] as {shape}"
    return f"{s.name} = {s.op.value}({', '.join(str(o) for o in s.operands)})"


def _loop(loop: SlcLoop, indent: str) -> list[str]:
    bounds = f"dense [0, {loop.extent})" if loop.kind is LoopKind.DENSE else f"range [{loop.lo}, {loop.hi})"
    lines = [f"{indent}for {loop.var} in {bounds}:"]
    inner = indent + "  "
    lines += [inner + _stream(s) for s in loop.streams]
    for cb in loop.callbacks:
        if cb.event.value == "end" and loop.inner:
            continue
        lines += _callback(cb, inner)
    if loop.inner:
        lines += _loop(loop.inner, inner)
        for cb in loop.callbacks:
            if cb.event.value == "end":
                lines += _callback(cb, inner)
    return lines


def _callback(cb, indent: str) -> list[str]:
    when = f" when {cb.when}" if cb.when else ""
    lanes = f" lanes {cb.lanes}" if cb.lanes > 1 else ""
    return [f"{indent}on {cb.event.value}{when}{lanes}:"] + [indent + "  " + format_instr(i) for i in cb.body]


def format_slc(p: SlcProgram) -> str:
    ins = ", ".join(f"{x.name}: {x.dtype.value}[{', '.join(map(str, x.shape))}]" for x in p.params if not x.is_output)
    outs = ", ".join(f"{x.name}: {x.dtype.value}[{', '.join(map(str, x.shape))}]" for x in p.params if x.is_output)
    lines = [f"slc.program {p.name}({ins}) -> ({outs})"]
    for a in p.accumulators:
        width = f"[{a.width}]" if a.width is not None else ""
        lines.append(f"  acc {a.name}: {a.reduce.value} {a.dtype.value}{width} init {a.init}"
                     + (f" arg {a.arg_init}" if a.tracks_arg else ""))
    for fact in p.known:
        lines.append(f"  known {fact.tensor}[p] = {fact.start} + {fact.step} * p")
    for nest in p.nests:
        lines += _loop(nest, "  ")
    return "\n".join(lines) + "\n"
