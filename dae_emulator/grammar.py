"""The DAE program's text form (``dae_emulator.text``) as a grammar, for decoding constrained to it.

The grammar is GBNF, the EBNF dialect that llama.cpp's server, xgrammar (and so vLLM) and transformers-cfg
read. Its words come from the program's enums (dtypes, stream kinds, ALU and execute ops, reductions,
queue kinds, events), so a new op is in the grammar as soon as it is in the parser; its line shapes follow
the parser's patterns, written in the order ``format_program`` prints (parameters, ``access:``, ``queues:``,
``execute:``; accumulators before callbacks), and each op takes the number of operands the verifier holds
it to (``program.OPERANDS``; a store one or two indices, an update one or two operands). A test holds the
two together: every program of the corpus (the hand-written ones, the agent's tasks' expert programs and
examples, compiled programs as printed) is accepted by this grammar, and malformed text is refused by both.

``program_grammar`` narrows it to what one task allows: its parameters and outputs exactly (names, dtypes,
shapes, in order: the model does not choose them), its size symbols in every dimension, lanes and unroll
factors the device takes, and no comment lines, so a model writes the program and nothing else.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .program import ALU_OPERANDS, OPERANDS, AluOp, DType, Event, OpKind, QueueKind, ReduceKind, StreamKind
from .text import STORE_OPS

# execute ops written ``%x = op a, b``: all but those with a form of their own
_VALUE_OPS = [op for op in OpKind if op not in STORE_OPS and op not in (
    OpKind.POP, OpKind.COUNT, OpKind.READ, OpKind.READ_ARG, OpKind.CAST, OpKind.UPDATE, OpKind.RESET)]
_LOAD_KINDS = [StreamKind.LOAD, StreamKind.LOAD_ROW, StreamKind.PREFETCH_ROW]


def alternatives(words: Iterable[str]) -> str:
    """A GBNF alternative of literal words, longest first (so that a prefix never shadows a longer word)."""
    return " | ".join(f'"{w}"' for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _times(least: int, most: int | None) -> str:
    """A GBNF repetition of at least ``least`` and at most ``most`` (None: no bound)."""
    return ("*" if least == 0 else "+") if most is None else f"{{{least},{most}}}"


def program_grammar(*, name: str | None = None, params: Sequence[str] | None = None,
                    symbols: Sequence[str] | None = None,
                    inputs: Mapping[str, int] | None = None, outputs: Mapping[str, int] | None = None,
                    lanes: Sequence[int] | None = None, unrolls: Sequence[int] | None = None,
                    max_traversals: int | None = None, max_queues: int | None = None,
                    max_callbacks: int | None = None, max_instructions: int | None = None,
                    comments: bool = True, canonical: bool = False) -> str:
    """The grammar of one program, as GBNF text (its start rule is ``root``).

    ``params``: the exact parameter and output lines (``"param table: f32[num_rows, dim]"``), in order; None
    lets any. ``symbols``: the size symbols a dimension may name; None lets any name. ``lanes`` and
    ``unrolls``: the values a callback may take; None lets any number. ``comments``: whether ``# ...`` lines
    may appear (the parser keeps them as notes). ``canonical``: the layout ``format_program`` prints (two
    spaces before a section's line, four before an instruction, no blank lines; each traversal followed by
    its streams, the push rules last), so that a model spends no tokens on layout and cannot run on in
    whitespace; otherwise any layout and order of access lines the parser takes. ``inputs`` and
    ``outputs``: the tensors a stream may load and a store may write, each with its number of dimensions,
    as the verifier holds loads to them (``load`` a 1-d input, ``load_row`` a 2-d one, ``prefetch_row`` a 2-d
    input or output); None: any name. ``name``: the program's name (None: any). ``max_*``: bounds on
    traversals (canonical layout only), queues, callbacks and instructions per callback (None: none).

    The canonical layout is for a model writing a program, so it also bounds what a model can only
    repeat: a number has at most 19 digits (an i64 has 19), a name at most 32 characters, and the access
    section holds at least one push rule (a program without one sends no token, so runs no callback)."""
    if canonical:
        space = {"blank": '"\\n"', "nl": '"\\n"', "ind": '"  "', "ind2": '"    "', "sep": '", "',
                 "sign": '" " [+-] " "', "lead": ""}
    else:
        space = {"blank": '[ ]* "\\n"', "nl": '[ ]* "\\n" blank*', "ind": "[ ]*", "ind2": "[ ]*",
                 "sep": '"," [ ]*', "sign": "[ ]* [+-] [ ]*", "lead": "blank* "}
    if comments:
        space["blank"] = '[ ]* "#" [^\\n]* "\\n" | ' + space["blank"]
        space["nl"] = '[ ]* "\\n" blank*'
        space["lead"] = "blank* "
    if params is None:
        param_rules = ('params ::= (param-line nl)+\n'
                       'param-line ::= ("param" | "output") " " name ": " dtype "[" dims "]" (" init " number)?\n')
    else:
        if not params:
            raise ValueError("a program has at least one parameter")
        param_rules = "params ::= " + " ".join(f'"{line}" nl' for line in params) + "\n"
    symbol = "name" if symbols is None else f"({alternatives(symbols)})"
    output = "name" if outputs is None else f"({alternatives(outputs)})"
    load_rule = "load ::= " + " | ".join(_load_forms(inputs, outputs))
    if canonical:
        access = (f'access ::= (ind traversal nl (ind stream nl)*){_times(1, max_traversals)} (ind tile nl)? '
                  f'(ind rule nl)+')
        bounded = {"name": "[A-Za-z_] [A-Za-z0-9_]{0,31}", "digits": "[0-9]{1,19}"}
    else:
        access = "access ::= (ind access-line nl)*\naccess-line ::= traversal | stream | tile | rule"
        bounded = {"name": "[A-Za-z_] [A-Za-z0-9_]*", "digits": "[0-9]+"}
    store_forms = " | ".join(f'"{op.value} " {output} "[" value ({space["sep"]} value)? "] {sign} " value'
                             for op, sign in STORE_OPS.items())
    arities = sorted({OPERANDS[op] for op in _VALUE_OPS})
    value_forms = " | ".join(f'({alternatives(op.value for op in _VALUE_OPS if OPERANDS[op] == n)}) " " value'
                             + f' ({space["sep"]} value)' * (n - 1) for n in arities)
    cast_form = f'"{OpKind.CAST.value}." dtype " " value' + f' ({space["sep"]} value)' * (OPERANDS[OpKind.CAST] - 1)
    operands = "operand" + f' {space["sep"]} operand' * (ALU_OPERANDS - 1)
    program_name = "name" if name is None else f'"{name}"'
    return f"""root ::= {space["lead"]}"program " {program_name} nl params "access:" nl access "queues:" nl queues "execute:" nl execute
blank ::= {space["blank"]}
nl ::= {space["nl"]}
ind ::= {space["ind"]}
ind2 ::= {space["ind2"]}
{param_rules}dims ::= dim ({space["sep"]} dim)*
dim ::= {symbol} ({space["sign"]} digits)? | digits
{access}
traversal ::= "traversal " name " = " ("dense [0, " dim ")" | "range [" name ", " name ")") (" in " name)?
tile ::= "cores take outer items in tiles of " digits
stream ::= "stream " name " = " (induction | load | alu)
induction ::= "{StreamKind.INDUCTION.value} " name
{load_rule}
alu ::= "{StreamKind.ALU.value} " ({alternatives(op.value for op in AluOp)}) "(" {operands} ") @" name
operand ::= "-"? digits | name | "$" {symbol}
rule ::= "on " name "." ({alternatives(e.value for e in Event)}) (" when " name)? ": " ("push " push ({space["sep"]} push)* "; ")? "token " name
push ::= name " <- " name
queues ::= (ind "queue " name ": " ({alternatives(k.value for k in QueueKind)}) " " dtype (" x" digits)? nl){_times(0, max_queues)}
execute ::= (ind acc nl)* (ind callback nl body){_times(0, max_callbacks)}
acc ::= "acc " name ": " ({alternatives(r.value for r in ReduceKind)}) " " dtype ("[" dim "]")? " init " number (" arg " "-"? digits)?
callback ::= "callback " name (" lanes " {"digits" if lanes is None else f"({alternatives(str(n) for n in lanes)})"})? (" unroll " {"digits" if unrolls is None else f"({alternatives(str(n) for n in unrolls)})"})? ":"
body ::= (ind2 instr nl){_times(1, max_instructions)}
instr ::= assign | store | update | reset
assign ::= "%" name " = " (assigned)
assigned ::= "{OpKind.COUNT.value}" | ({alternatives(op.value for op in (OpKind.POP, OpKind.READ, OpKind.READ_ARG))}) " " name | {cast_form} | {value_forms}
store ::= {store_forms}
update ::= "{OpKind.UPDATE.value} " name ", " value ({space["sep"]} value)?
reset ::= "{OpKind.RESET.value} " name
value ::= "%" name | number
number ::= "-"? ("inf" | digits ("." digits)? ([eE] [+-]? digits)?)
dtype ::= {alternatives(d.value for d in DType)}
name ::= {bounded["name"]}
digits ::= {bounded["digits"]}
"""


def _load_forms(inputs: Mapping[str, int] | None, outputs: Mapping[str, int] | None) -> list[str]:
    """The alternatives of a load stream's ``kind tensor`` head (then ``[index] @unit``), each kind over the
    tensors of the rank it takes; a kind no tensor fits is left out."""
    if inputs is None:
        return [f'({alternatives(k.value for k in _LOAD_KINDS)}) " " name "[" name "] @" name']
    rows = [t for t, rank in inputs.items() if rank == 2] + [t for t, rank in (outputs or {}).items() if rank == 2]
    takes = {StreamKind.LOAD: [t for t, rank in inputs.items() if rank == 1],
             StreamKind.LOAD_ROW: [t for t, rank in inputs.items() if rank == 2],
             StreamKind.PREFETCH_ROW: rows if outputs is not None else None}
    return [f'"{kind.value} " ' + ("name" if tensors is None else f"({alternatives(tensors)})") + ' "[" name "] @" name'
            for kind, tensors in takes.items() if tensors is None or tensors]


PROGRAM_GRAMMAR = program_grammar()
