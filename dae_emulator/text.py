"""The DAE program's text form: ``format_program`` prints it, ``parse_program`` reads it back.

The text is meant to be written by hand (or by a language model) as well as printed, so the parser names
the line and what it expected when it rejects one.
"""
from __future__ import annotations

import math
import re

from .program import (
    Accumulator, AluOp, Callback, Dim, DType, Event, Instr, OpKind, Param, Program, PushRule, Queue,
    QueueKind, ReduceKind, Stream, StreamKind, Traversal, TraversalKind,
)


class DaeSyntaxError(ValueError):
    """A line of program text that does not parse; names the line."""

    def __init__(self, line_no: int, line: str, expected: str):
        super().__init__(f"line {line_no}: {line.strip()!r}: expected {expected}")
        self.line_no = line_no


# ---------------------------------------------------------------------------------------------- printing

STORE_OPS = {OpKind.STORE: "=", OpKind.STORE_ADD: "+=", OpKind.STORE_MAX: "max=", OpKind.STORE_MIN: "min=",
             OpKind.STORE_MUL: "*="}

def _shape(shape: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _arg(a: str | float | int) -> str:
    if isinstance(a, str):
        return "%" + a
    if isinstance(a, float):
        return repr(a) if math.isfinite(a) else ("inf" if a > 0 else "-inf")
    return str(a)


def _stream_text(s: Stream) -> str:
    if s.kind is StreamKind.INDUCTION:
        body = f"induction {s.traversal}"
    elif s.kind is StreamKind.LOAD:
        body = f"load {s.tensor}[{s.index}] @{s.traversal}"
    elif s.kind in (StreamKind.LOAD_ROW, StreamKind.PREFETCH_ROW):
        body = f"{s.kind.value} {s.tensor}[{s.index}] @{s.traversal}"
    else:
        body = f"alu {s.op.value}({', '.join(str(o) for o in s.operands)}) @{s.traversal}"
    return f"  stream {s.name} = {body}"


def format_instr(i: Instr) -> str:
    args = ", ".join(_arg(a) for a in i.args)
    if i.op is OpKind.POP:
        return f"%{i.result} = pop {i.target}"
    if i.op is OpKind.COUNT:
        return f"%{i.result} = count"
    if i.op in (OpKind.READ, OpKind.READ_ARG):
        return f"%{i.result} = {i.op.value} {i.target}"
    if i.op is OpKind.UPDATE:
        return f"update {i.target}, {args}"
    if i.op is OpKind.RESET:
        return f"reset {i.target}"
    if i.op in STORE_OPS:
        *index, value = i.args
        sign = STORE_OPS[i.op]
        return f"{i.op.value} {i.target}[{', '.join(_arg(a) for a in index)}] {sign} {_arg(value)}"
    if i.op is OpKind.CAST:
        return f"%{i.result} = cast.{i.dtype.value} {args}"
    return f"%{i.result} = {i.op.value} {args}"


def format_program(p: Program) -> str:
    lines = [f"program {p.name}"]
    lines += [f"# {n}" for n in p.notes]
    for prm in p.params:
        init = f" init {_arg(float(prm.init))}" if prm.is_output and prm.init != 0.0 else ""
        lines.append(f"{'output' if prm.is_output else 'param'} {prm.name}: {prm.dtype.value}{_shape(prm.shape)}{init}")
    lines.append("access:")
    streams_by_layer = {t.name: [s for s in p.streams if s.traversal == t.name] for t in p.traversals}
    for t in p.traversals:
        if t.kind is TraversalKind.DENSE:
            bounds = f"dense [0, {t.extent})"
        else:
            bounds = f"range [{t.lo}, {t.hi})"
        lines.append(f"  traversal {t.name} = {bounds}" + (f" in {t.parent}" if t.parent else ""))
        lines += [_stream_text(s) for s in streams_by_layer[t.name]]
    if p.tile is not None:
        lines.append(f"  cores take outer items in tiles of {p.tile}")
    for r in p.rules:
        when = f" when {r.when}" if r.when else ""
        pushes = "push " + ", ".join(f"{q} <- {s}" for q, s in r.pushes) + "; " if r.pushes else ""
        lines.append(f"  on {r.traversal}.{r.event.value}{when}: {pushes}token {r.token}")
    lines.append("queues:")
    lines += [f"  queue {q.name}: {q.kind.value} {q.dtype.value}" + (f" x{q.entry}" if q.entry else "")
              for q in p.queues]
    lines.append("execute:")
    for a in p.accumulators:
        width = f"[{a.width}]" if a.width is not None else ""
        arg = f" arg {a.arg_init}" if a.tracks_arg else ""
        lines.append(f"  acc {a.name}: {a.reduce.value} {a.dtype.value}{width} init {_arg(float(a.init))}{arg}")
    for cb in p.callbacks:
        lanes = f" lanes {cb.lanes}" if cb.lanes != 1 else ""
        unroll = f" unroll {cb.unroll}" if cb.unroll != 1 else ""
        lines.append(f"  callback {cb.token}{lanes}{unroll}:")
        lines += ["    " + format_instr(i) for i in cb.body]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- parsing

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_RE = {
    "program": re.compile(rf"program ({_NAME})$"),
    "param": re.compile(rf"(param|output) ({_NAME}): (\w+)\[(.*)\](?: init (\S+))?$"),
    "dense": re.compile(rf"traversal ({_NAME}) = dense \[0, ([^)]+)\)(?: in ({_NAME}))?$"),
    "range": re.compile(rf"traversal ({_NAME}) = range \[({_NAME}), ({_NAME})\)(?: in ({_NAME}))?$"),
    "tile": re.compile(r"cores take outer items in tiles of (\d+)$"),
    "induction": re.compile(rf"stream ({_NAME}) = induction ({_NAME})$"),
    "load": re.compile(rf"stream ({_NAME}) = (load|load_row|prefetch_row) ({_NAME})\[({_NAME})\] @({_NAME})$"),
    "alu": re.compile(rf"stream ({_NAME}) = alu (\w+)\((.*)\) @({_NAME})$"),
    "rule": re.compile(rf"on ({_NAME})\.(iter|end)(?: when ({_NAME}))?: (?:push (.*); )?token ({_NAME})$"),
    "queue": re.compile(rf"queue ({_NAME}): (\w+) (\w+)(?: x(\d+))?$"),
    "acc": re.compile(rf"acc ({_NAME}): (\w+) (\w+)(?:\[(.*)\])? init (\S+)(?: arg (-?\d+))?$"),
    "callback": re.compile(rf"callback ({_NAME})(?: lanes (\d+))?(?: unroll (\d+))?:$"),
    "assign": re.compile(rf"%({_NAME}) = (\w+)(?:\.(\w+))?(?: (.*))?$"),
    "store": re.compile(rf"(store\w*) ({_NAME})\[(.*)\] (=|\+=|max=|min=|\*=) (\S+)$"),
    "update": re.compile(rf"update ({_NAME}), (.*)$"),
    "reset": re.compile(rf"reset ({_NAME})$"),
}


def _dim(text: str) -> Dim:
    text = text.strip()
    m = re.fullmatch(rf"({_NAME})(?:\s*([+-])\s*(\d+))?|(\d+)", text)
    if not m:
        raise ValueError(f"bad dimension {text!r}")
    if m.group(4):
        return Dim(None, int(m.group(4)))
    offset = int(m.group(3) or 0) * (-1 if m.group(2) == "-" else 1)
    return Dim(m.group(1), offset)


def _value(text: str) -> str | float | int:
    text = text.strip()
    if text.startswith("%"):
        return text[1:]
    if text in ("inf", "-inf"):
        return float(text)
    return float(text) if any(c in text for c in ".eE") else int(text)


def _alu_operand(text: str) -> str | int:
    """An integer immediate, a stream name, or ``$symbol`` (a size bound at launch)."""
    text = text.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _split(text: str) -> list[str]:
    return [t for t in (x.strip() for x in text.split(",")) if t]


def _instr(line: str) -> Instr:
    if m := _RE["assign"].match(line):
        result, op, suffix, rest = m.group(1), OpKind(m.group(2)), m.group(3), m.group(4) or ""
        if op is OpKind.COUNT:
            return Instr(op, result=result)
        if op is OpKind.POP or op in (OpKind.READ, OpKind.READ_ARG):
            return Instr(op, result=result, target=rest.strip())
        dtype = DType(suffix) if op is OpKind.CAST else None
        return Instr(op, result=result, args=tuple(_value(a) for a in _split(rest)), dtype=dtype)
    if m := _RE["store"].match(line):
        op = OpKind(m.group(1))
        if op not in STORE_OPS or m.group(4) != STORE_OPS[op]:
            raise ValueError(", ".join(f"{k.value} takes '{v}'" for k, v in STORE_OPS.items()))
        return Instr(op, target=m.group(2), args=tuple(_value(a) for a in _split(m.group(3))) + (_value(m.group(5)),))
    if m := _RE["update"].match(line):
        return Instr(OpKind.UPDATE, target=m.group(1), args=tuple(_value(a) for a in _split(m.group(2))))
    if m := _RE["reset"].match(line):
        return Instr(OpKind.RESET, target=m.group(1))
    raise ValueError("an instruction")


def parse_program(text: str) -> Program:
    """Parse program text; raises ``DaeSyntaxError`` naming the first line it cannot read."""
    name, params, travs, streams, rules, queues, accs, callbacks, notes = None, [], [], [], [], [], [], [], []
    tile = None
    section, body = None, None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            notes.append(line[1:].strip())
            continue
        try:
            if name is None:
                m = _RE["program"].match(line)
                if not m:
                    raise ValueError("'program NAME' first")
                name = m.group(1)
            elif line in ("access:", "queues:", "execute:"):
                section = line[:-1]
            elif section is None:
                m = _RE["param"].match(line)
                if not m:
                    raise ValueError("'param NAME: DTYPE[DIMS]' or 'output NAME: DTYPE[DIMS]'")
                shape = tuple(_dim(d) for d in _split(m.group(4)))
                init = float(_value(m.group(5))) if m.group(5) else 0.0
                params.append(Param(m.group(2), DType(m.group(3)), shape, m.group(1) == "output", init))
            elif section == "access" and (m := _RE["tile"].match(line)):
                tile = int(m.group(1))
            elif section == "access":
                travs, streams, rules = _access_line(line, travs, streams, rules)
            elif section == "queues":
                m = _RE["queue"].match(line)
                if not m:
                    raise ValueError("'queue NAME: scalar|row DTYPE [xENTRY]'")
                queues.append(Queue(m.group(1), QueueKind(m.group(2)), DType(m.group(3)), int(m.group(4) or 0)))
            elif m := _RE["acc"].match(line):
                width = _dim(m.group(4)) if m.group(4) else None
                arg = m.group(6)
                accs.append(Accumulator(m.group(1), ReduceKind(m.group(2)), DType(m.group(3)), width,
                                        float(_value(m.group(5))), arg is not None, int(arg) if arg else -1))
            elif m := _RE["callback"].match(line):
                body = []
                callbacks.append((m.group(1), body, int(m.group(2) or 1), int(m.group(3) or 1)))
            elif body is None:
                raise ValueError("'acc ...' or 'callback TOKEN:'")
            else:
                body.append(_instr(line))
        except ValueError as err:
            raise DaeSyntaxError(no, raw, str(err).removeprefix("expected ")) from None
    if name is None:
        raise DaeSyntaxError(0, "", "a program")
    return Program(name, tuple(params), tuple(travs), tuple(streams), tuple(rules), tuple(queues), tuple(accs),
                   tuple(Callback(t, tuple(b), lanes, unroll) for t, b, lanes, unroll in callbacks), tuple(notes),
                   tile)


def _access_line(line, travs, streams, rules):
    if m := _RE["dense"].match(line):
        travs.append(Traversal(m.group(1), TraversalKind.DENSE, m.group(3), extent=_dim(m.group(2))))
    elif m := _RE["range"].match(line):
        travs.append(Traversal(m.group(1), TraversalKind.RANGE, m.group(4), lo=m.group(2), hi=m.group(3)))
    elif m := _RE["induction"].match(line):
        streams.append(Stream(m.group(1), StreamKind.INDUCTION, m.group(2)))
    elif m := _RE["load"].match(line):
        kind = StreamKind(m.group(2))
        streams.append(Stream(m.group(1), kind, m.group(5), tensor=m.group(3), index=m.group(4)))
    elif m := _RE["alu"].match(line):
        streams.append(Stream(m.group(1), StreamKind.ALU, m.group(4), op=AluOp(m.group(2)),
                              operands=tuple(_alu_operand(o) for o in _split(m.group(3)))))
    elif m := _RE["rule"].match(line):
        pushes = []
        for item in _split(m.group(4) or ""):
            q, _, s = item.partition("<-")
            if not s:
                raise ValueError("'QUEUE <- STREAM' in the push list")
            pushes.append((q.strip(), s.strip()))
        rules.append(PushRule(m.group(1), Event(m.group(2)), m.group(5), tuple(pushes), m.group(3)))
    else:
        raise ValueError("'traversal', 'stream' or 'on LAYER.EVENT: ...'")
    return travs, streams, rules
