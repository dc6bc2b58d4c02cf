"""The DAE program's static rules as a grammar that grows with the text: the grammar of the next piece of a
program, given the text before it, for decoding one piece at a time.

``dae_emulator.grammar`` is context-free, so it cannot say what the verifier (``dae_emulator.verify``) holds
a program to: a name is defined once and before use, a stream reads only its own layer or those above, a
queue is popped by one callback once per token and pushed by every rule that sends that token, a token
has one callback, a queue's kind is its stream's. A small model that decodes under the context-free
grammar writes programs that break exactly these (a queue pushed and never popped, a callback declared
twice). Here the grammar of each piece is made from the program parsed so far, so only names in scope
(and fresh names where a line defines one; a queue's name and the value it is popped into are given,
after its stream's) can be written, and those rules cannot be broken.

A piece is one line, or one part of a push rule (``on tu0.iter:``, each ``q <- s`` item, ``; token T``),
each starting with its separator (``"\\n"``, ``" push "``, ``", "``, ``"; token "``): a model's token never
spans two pieces, since a BPE token never joins a newline or a comma to the name before it. The layout is
``format_program``'s (the canonical one of ``program_grammar``), so every piece is text the task's
context-free grammar allows too. Beyond the verifier, it asks what a program in that layout can always be
rewritten to: a queue declared with its stream's dtype, one induction stream per traversal unit, and a
callback that uses each value it computes (pops aside); a program may end only where ``complete`` (the
decoder's, from the agent's full static check) says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .extents import fits, stream_extents
from .program import TRUTH_OPS, AluOp, Dim, DType, Event, Program, QueueKind, StreamKind
from .scoped_execute import ExecutePieces
from .scoped_names import ROW, fresh_name, fresh_number, one_of, queue_name
from .text import DaeSyntaxError, parse_program
from .verify import DaeVerifyError, ancestors, layer_parents

MAX_STREAMS = 8                     # streams of one traversal unit (the expert programs make at most 7)
MAX_ALU = 2                         # alu streams of one traversal unit (the expert programs make at most 1)
MAX_PUSHES = 6                      # queues one rule pushes (the expert programs push at most 4)
_RULE = re.compile(r"  on (\w+)\.(iter|end)(?: when (\w+))?:(?: push (.*))?$")
_RULE_DONE = re.compile(r"[:;] token \w+$")      # a rule's last piece (a stream may be named ``token``)
# the constants with which an alu op gives its operand back or a constant (as its second operand)
_IDENTITY = {AluOp.ADD: {0}, AluOp.SUB: {0}, AluOp.MUL: {0, 1}, AluOp.DIV: {0, 1}, AluOp.MOD: {0, 1}}


@dataclass(frozen=True)
class ScopedGrammar:
    """One program's piece grammars. ``params``: its exact parameter and output lines; ``symbols``: the size
    symbols a dimension may name; ``lanes``, ``unrolls``: what a callback may take; the ``max_*`` bounds as
    in ``program_grammar``; ``value_bounds``: the integer inputs whose values are known to lie below a size
    (``dae_emulator.extents``): then an index may only be one that stays inside what it indexes;
    ``constants``: the numbers a callback may write (an integer also with ``.0``), and, those that are
    non-negative integers, an alu op (None: any)."""

    name: str
    params: tuple[str, ...]
    symbols: tuple[str, ...]
    lanes: tuple[int, ...]
    unrolls: tuple[int, ...]
    max_traversals: int
    max_queues: int
    max_callbacks: int
    max_instructions: int
    value_bounds: tuple[tuple[str, Dim], ...] = ()
    constants: tuple[str, ...] | None = None

    def _extents(self, p: Program) -> dict:
        return stream_extents(p, dict(self.value_bounds))

    @cached_property
    def _execute_pieces(self) -> ExecutePieces:
        return ExecutePieces(self.symbols, self.lanes, self.unrolls, self.max_instructions, self.value_bounds,
                             self.constants)

    @property
    def prefix(self) -> str:
        """The text every program starts with (its name and signature are the task's); pieces follow."""
        return "\n".join([f"program {self.name}", *self.params, "access:"])

    def next_piece(self, text: str) -> str | None:
        """The GBNF grammar (start rule ``root``) of the piece that may follow ``text`` (the prefix and whole
        pieces), or None where no piece may follow (a program that must end, or cannot go on)."""
        lines = text.split("\n")
        head, last = "\n".join(lines[:-1]), lines[-1]
        rule = _RULE.match(last)
        if rule and not _RULE_DONE.search(last):
            program = _parse(head)
            return None if program is None else self._rule_rest(program, *rule.groups())
        program = _parse(text)
        if program is None:
            return None
        section = next(s for s in reversed(lines) if s in ("access:", "queues:", "execute:"))
        pieces_of = {"access:": self._access, "queues:": self._queues, "execute:": self._execute_pieces.pieces}
        alternatives = pieces_of[section](program)
        alternatives = [a for a in alternatives if a]
        return _grammar(alternatives) if alternatives else None

    # --------------------------------------------------------------------------------------- access
    def _access(self, p: Program) -> list[str]:
        names = {t.name for t in p.traversals} | {s.name for s in p.streams}
        out = []
        layout_open = not p.rules and p.tile is None       # traversals and streams come before rules
        # a unit makes a stream before the next unit is declared (a unit with none only repeats its parent)
        unit_has_stream = not p.traversals or any(s.traversal == p.traversals[-1].name for s in p.streams)
        if layout_open and len(p.traversals) < self.max_traversals and unit_has_stream:
            fresh = fresh_name(names)
            # a dense loop walks what an index can take: a parameter's first dimension
            dense = f'"dense [0, " {one_of(sorted({str(x.shape[0]) for x in p.params}))} ")"'
            if not p.traversals:
                out.append(f'"\\n  traversal " {fresh} " = " {dense}')
            else:
                last = p.traversals[-1].name
                bounds = [s.name for s in self._visible(p, last) if self._integer(p, s.name)]
                pairs = one_of(f"{lo}, {hi}" for lo in bounds for hi in bounds if lo != hi)   # [lo, lo) is empty
                ranged = f' | "range [" {pairs} ") in {last}"' if pairs else ""
                out.append(f'"\\n  traversal " {fresh} " = " ({dense} (" in {last}")?{ranged})')
        if layout_open and p.traversals and sum(s.traversal == p.traversals[-1].name for s in p.streams) < MAX_STREAMS:
            if stream := self._stream(p, names):
                out.append(stream)
        rules = []
        if p.traversals and p.streams and (p.rules or self._all_loaded(p)):
            if layout_open:
                out.append('"\\n  cores take outer items in tiles of " [1-9] [0-9]{0,5}')
            for t in p.traversals:
                guards = [s.name for s in self._visible(p, t.name) if self._boolean(p, s.name)]
                for event in Event:
                    for guard in (None, *guards):      # begun only where it can push a queue
                        if self._rule_rest(p, t.name, event.value, guard, None) is not None:
                            when = f" when {guard}" if guard else ""
                            rules.append(f'"\\n  on {t.name}.{event.value}{when}:"')
        # every stream used first, unless no rule can use one any more (every event sends every token it may,
        # and there is room for no new one): SmolLM2 got there with an offsets load nothing read, a dead end
        out += rules
        if p.rules and (self._all_used(p) or not rules):
            out.append('"\\nqueues:"')
        return out

    @staticmethod
    def _all_loaded(p: Program) -> bool:
        """Whether every input is loaded: a program reads what it is given (before its first push rule)."""
        return {x.name for x in p.inputs} <= {s.tensor for s in p.streams}

    @staticmethod
    def _all_used(p: Program) -> bool:
        """Whether every stream is used (an index, an operand, a bound, a guard, a push): a program makes
        no stream it throws away (before its queues). A prefetch has no value to use: it is its own use."""
        used = ({s.index for s in p.streams} | {o for s in p.streams for o in s.operands}
                | {t.lo for t in p.traversals} | {t.hi for t in p.traversals} | {r.when for r in p.rules}
                | {s for r in p.rules for _, s in r.pushes})
        return all(s.name in used for s in p.streams if s.kind is not StreamKind.PREFETCH_ROW)

    def _stream(self, p: Program, taken: set[str]) -> str | None:
        """A new stream: a row load is named ``row...``, and no other stream is: SmolLM2 names the stream after
        the induction ``row``, as the prompt's example names its row load, whatever it loads. After a row
        load, only row loads: no stream can use a row, so a program can always load its rows last, and
        SmolLM2 wrote streams nothing needed after its rows (``add(i, 1)``, ``mul(r, i)``, a prefetch), each
        of which it then had to push."""
        unit = p.traversals[-1].name
        indices = [s.name for s in self._visible(p, unit) if self._integer(p, s.name)]
        kinds, row_loads = [], []
        if not any(s.traversal == unit and s.kind is StreamKind.INDUCTION for s in p.streams):
            kinds.append(f'"induction {unit}"')
        if indices:
            tensors = {1: [x.name for x in p.inputs if len(x.shape) == 1],
                       2: [x.name for x in p.inputs if len(x.shape) == 2]}
            # a prefetch, one a unit, of an output's row: ahead of a store_add, what it is for (SmolLM2 wrote
            # prefetches of rows it never loaded, three in a unit)
            prefetched = any(s.traversal == unit and s.kind is StreamKind.PREFETCH_ROW for s in p.streams)
            rows = [] if prefetched else [x.name for x in p.outputs if len(x.shape) == 2]
            # a row this unit loads or prefetches already is not loaded or prefetched again
            loaded = {(s.kind is StreamKind.LOAD, s.tensor, s.index) for s in p.streams if s.traversal == unit}
            extents = self._extents(p)
            for kind, names in ((StreamKind.LOAD, tensors[1]), (StreamKind.LOAD_ROW, tensors[2]),
                                (StreamKind.PREFETCH_ROW, rows)):
                fresh_loads = [f"{t}[{i}]" for t in names for i in indices if (kind is StreamKind.LOAD, t, i)
                               not in loaded and fits(extents[i], p.param(t).shape[0])]
                if fresh_loads:
                    (row_loads if kind is StreamKind.LOAD_ROW else kinds).append(f'"{kind.value} " {one_of(fresh_loads)} " @{unit}"')
            if sum(s.traversal == unit and s.kind is StreamKind.ALU for s in p.streams) < MAX_ALU:
                kinds.append(f'"alu " ({self._alu(p, unit, indices, extents)}) " @{unit}"')
        if any(s.traversal == unit and s.kind is StreamKind.LOAD_ROW for s in p.streams):
            kinds = []       # a unit's row loads come last: nothing can use a row (SmolLM2 wrote add(i, 1), ...)
        named = [(fresh_name(taken, avoid=ROW), kinds), (fresh_name(taken, start=ROW), row_loads)]
        lines = [f'"\\n  stream " {fresh} " = " ({" | ".join(made)})' for fresh, made in named if fresh and made]
        return " | ".join(f"({line})" for line in lines) or None     # None: no stream can

    def _alu(self, p: Program, unit: str, indices: list[str], extents: dict) -> str:
        """An alu op with a stream operand (an op of constants is a constant), non-negative constants (``sub``
        takes one away), not one a stream in scope computes already (that stream is the same value), not of
        one stream twice (``add(i, i)`` is ``mul(i, 2)``, ``eq(i, i)`` a constant), and no constant that makes
        the op its operand or a constant (``add(i, 0)``, ``mul(i, 1)``, ``mod(i, 1)``); ``and`` takes two truth
        values (``and(i, 1)`` is ``ne(i, 0)``). Every AluOp is binary."""
        computed = {(s.op, s.operands) for s in self._visible(p, unit) if s.kind is StreamKind.ALU}
        forms = []
        truths = [s for s in indices if self._boolean(p, s)]
        for op in AluOp:
            constants = op is not AluOp.AND
            for a in truths if op is AluOp.AND else indices:
                taken = {b for o, (x, b) in computed if o is op and x == a} | _IDENTITY.get(op, set())  # op(a, b)
                seconds = [f'"{b}"' for b in (truths if op is AluOp.AND else indices) if b not in taken and b != a]
                if constants:
                    if op is AluOp.MOD and extents.get(a) is not None:    # mod(i, $n) where i < n already is i
                        taken = taken | {f"${s}" for s in self.symbols if fits(extents[a], Dim(s))}
                        taken |= {int(c) for c in self.constants or () if c.isdigit() and fits(extents[a], Dim(None, int(c)))}
                    seconds += [f'"${s}"' for s in self.symbols if f"${s}" not in taken]
                    seconds += self._alu_numbers(taken)
                if seconds:
                    forms.append(f'"{op.value}({a}, " ({" | ".join(seconds)}) ")"')
                if constants:                                                                    # op(c, a)
                    taken = {x for o, (x, b) in computed if o is op and b == a and x not in indices}
                    if op in (AluOp.ADD, AluOp.MUL):                 # commutative: c + a, c * a
                        taken |= _IDENTITY[op]
                    firsts = [f'"${s}"' for s in self.symbols if f"${s}" not in taken] + self._alu_numbers(taken)
                    if firsts:
                        forms.append(f'"{op.value}(" ({" | ".join(firsts)}) ", {a})"')
        return " | ".join(forms)

    def _alu_numbers(self, taken) -> list[str]:
        """The constants an alu op may take, but ``taken``: any non-negative integer, or those of ``constants``."""
        if self.constants is None:
            return [fresh_number(b for b in taken if isinstance(b, int))]
        return [f'"{c}"' for c in self.constants if c.isdigit() and int(c) not in taken]

    @staticmethod
    def _visible(p: Program, unit: str):
        parents = layer_parents(p)
        depth = {t.name: i for i, t in enumerate(p.traversals)}
        layers = {p.traversals[i].name for i in ancestors(parents, depth[unit])}
        return [s for s in p.streams if s.traversal in layers]

    @staticmethod
    def _boolean(p: Program, stream: str) -> bool:
        """Whether a stream is a truth value: a comparison's or ``and``'s, or a load of a bool input. Guards and
        ``and`` take only these (``when i`` is ``when ne(i, 0)``)."""
        s = p.stream(stream)
        if s.kind is StreamKind.ALU:
            return s.op in TRUTH_OPS
        return s.kind is StreamKind.LOAD and p.param(s.tensor).dtype is DType.BOOL

    @staticmethod
    def _integer(p: Program, stream: str) -> bool:
        s = p.stream(stream)
        if s.kind in (StreamKind.INDUCTION, StreamKind.ALU):
            return True
        return s.kind is StreamKind.LOAD and not p.param(s.tensor).dtype.is_float

    # ------------------------------------------------------------------------------- a push rule
    def _rule_rest(self, p: Program, unit: str, event: str, when: str | None, items: str | None) -> str | None:
        """The next piece of a push rule whose line so far is ``on UNIT.EVENT[ when S]:[ push ITEMS]``: new
        queues for a new token, each named after its stream (``queue_name``) and of a stream this event does
        not push already (SmolLM2 pushed i and row on tu0.iter again and again, into q_i_2, q_row_2, ...), or
        an existing token's queues (each once) for that token, which this event does not send already and
        can fill (SmolLM2 began ``push q_t2 <- i`` where no stream was left for the token's other queue); each
        stream pushed once a rule (its callback can use a value twice)."""
        pushed = [tuple(x.strip() for x in item.split("<-")) for item in (items or "").split(", ") if item]
        token_queues, sent_here, pushed_here = {}, set(), set()
        for r in p.rules:
            token_queues.setdefault(r.token, [q for q, _ in r.pushes])
            if (r.traversal, r.event.value, r.when) == (unit, event, when):
                sent_here.add(r.token)
                pushed_here |= {s for _, s in r.pushes}
        owner = {q: t for t, qs in token_queues.items() for q in qs}
        row_queues = {q for r in p.rules for q, s in r.pushes if p.stream(s).kind is StreamKind.LOAD_ROW}
        streams = [s for s in self._visible(p, unit) if s.kind is not StreamKind.PREFETCH_ROW
                   and s.name not in {stream for _, stream in pushed}]     # a stream once a rule
        row_streams = [s for s in streams if s.kind is StreamKind.LOAD_ROW]
        rows = one_of(s.name for s in row_streams)
        scalars = one_of(s.name for s in streams if s.kind is not StreamKind.LOAD_ROW)
        mine = [q for q, _ in pushed]
        old = [q for q in mine if q in owner]
        items_next, tokens = [], []
        all_queues = set(owner) | set(mine)
        may_add_token = len(token_queues) < self.max_callbacks
        if not old and may_add_token and len(all_queues) < self.max_queues and len(mine) < MAX_PUSHES:
            items_next += [f'"{queue_name(s.name, all_queues)} <- {s.name}"' for s in streams if s.name not in pushed_here]
        if not mine or old:
            for token, queues in token_queues.items():
                if (old and owner[old[0]] != token) or token in sent_here:
                    continue
                left = [q for q in queues if q not in mine]
                row_left = sum(q in row_queues for q in left)
                if row_left > len(row_streams) or len(left) - row_left > len(streams) - len(row_streams):
                    continue        # too few streams left for its queues (each stream once): a dead end
                for q in queues:
                    if q not in mine and (rows if q in row_queues else scalars):
                        items_next.append(f'"{q} <- " {rows if q in row_queues else scalars}')
        if old:
            token = owner[old[0]]
            tokens = [token] if sorted(mine) == sorted(token_queues[token]) and token not in sent_here else []
        if mine and not old and may_add_token:
            tokens.append(None)                         # a new token, for new queues
        token_forms = [fresh_name(set(token_queues)) if t is None else f'"{t}"' for t in tokens]
        out = []
        if items_next:
            out.append(("\", \" " if mine else "\" push \" ") + f'({" | ".join(items_next)})')
        if token_forms:
            out.append(("\"; token \" " if mine else "\" token \" ") + f'({" | ".join(token_forms)})')
        return _grammar(out) if out else None

    # ---------------------------------------------------------------------------------- queues
    def _queues(self, p: Program) -> list[str]:
        declared = {q.name for q in p.queues}
        out = []
        for r in p.rules:
            for q, s in r.pushes:
                if q in declared:
                    continue
                declared.add(q)
                stream = p.stream(s)
                row = stream.kind is StreamKind.LOAD_ROW
                dtype = (p.param(stream.tensor).dtype if stream.kind in (StreamKind.LOAD, StreamKind.LOAD_ROW)
                         else DType.I64)
                wide = [str(n) for n in self.lanes if n > 1]
                entry = f' (" x" {one_of(wide)})?' if row and wide else ""
                kind = QueueKind.ROW if row else QueueKind.SCALAR
                out.append(f'"\\n  queue {q}: {kind.value} {dtype.value}"{entry}')
        if len(declared) == len({q.name for q in p.queues}):
            out.append('"\\nexecute:"')
        return out

def pieces(text: str, prefix: str) -> list[str]:
    """``text`` (a program starting with ``prefix``) cut into the pieces a decoder writes after the prefix,
    each starting with its separator; for holding the piece grammars to whole programs."""
    if not text.startswith(prefix):
        raise ValueError("the program does not start with the prefix")
    out = []
    for line in text[len(prefix):].rstrip("\n").split("\n")[1:]:
        rule = _RULE.match(line.split("; token ")[0].split(": token ")[0] if line.startswith("  on ") else "")
        if not rule:
            out.append("\n" + line)
            continue
        head, _, token = line.rpartition(" token ")
        head = head.removesuffix(";")
        items = rule.group(4)
        out.append("\n" + (head[:head.index(": push ") + 1] if items else head))
        out += [(", " if n else " push ") + item for n, item in enumerate((items or "").split(", ")) if item]
        out.append(("; token " if items else " token ") + token)
    return out


def _parse(text: str) -> Program | None:
    try:
        return parse_program(text + "\n")
    except (DaeSyntaxError, DaeVerifyError, ValueError):
        return None


def _grammar(alternatives: list[str]) -> str:
    return "root ::= " + " | ".join(f"({a})" for a in alternatives) + "\n"
