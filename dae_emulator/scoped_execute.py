"""The piece grammars of a DAE program's execute section (``scoped_grammar``): its accumulators, then each
callback sent a token and its instructions: pops first, values computed from values defined, then stores,
updates and resets; a callback ends only where it popped its queues and used what it computed, and each
instruction leaves room to get there within the instruction bound."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from .extents import fits, stream_extents, value_extents
from .grammar import alternatives
from .program import OPERANDS, STORE_KINDS, Dim, DType, OpKind, Program, QueueKind, ReduceKind
from .scoped_names import NUMBER, fresh_name, one_of, pop_value
from .text import STORE_OPS

MAX_ACCUMULATORS = 4
_VALUE_OPS = [op for op in OpKind if op not in STORE_OPS and op not in (
    OpKind.POP, OpKind.COUNT, OpKind.READ, OpKind.READ_ARG, OpKind.CAST, OpKind.UPDATE, OpKind.RESET)]


@dataclass(frozen=True)
class ExecutePieces:
    """One program's execute-section pieces. ``symbols``: the size symbols an accumulator's width may name;
    ``lanes``, ``unrolls``: what a callback may take; ``max_instructions``: a callback's bound;
    ``value_bounds``: as ``ScopedGrammar``'s (a store's index stays inside its output); ``constants``: the
    numbers a callback may write (an integer also with ``.0``; None: any)."""

    symbols: tuple[str, ...]
    lanes: tuple[int, ...]
    unrolls: tuple[int, ...]
    max_instructions: int
    value_bounds: tuple[tuple[str, Dim], ...] = ()
    constants: tuple[str, ...] | None = None

    def _dim(self) -> str:
        """A dimension: a size symbol, with a constant added or taken away, or a constant."""
        symbol = f'{one_of(self.symbols)} (" " [+-] " " [0-9]{{1,9}})? | ' if self.symbols else ""
        return f"({symbol}[0-9]{{1,9}})"

    def _number(self) -> str:
        """A number a callback may write."""
        if self.constants is None:
            return NUMBER
        spelled = [f'"{c}"' + (' (".0")?' if c.lstrip("-").isdigit() else "") for c in self.constants]
        return "(" + " | ".join(spelled) + ")"

    def pieces(self, p: Program) -> list[str]:
        """The pieces that may come next in the execute section of ``p``."""
        out = []
        accs = {a.name: a for a in p.accumulators}
        sent = list(dict.fromkeys(r.token for r in p.rules))
        pending = [t for t in sent if t not in {cb.token for cb in p.callbacks}]
        if not p.callbacks and len(accs) < MAX_ACCUMULATORS:
            out.append(f'"\\n  acc " {fresh_name(set(accs))} ": " ({alternatives(r.value for r in ReduceKind)}) " " '
                       f'({alternatives(d.value for d in DType)}) ("[" {self._dim()} "]")? " init " {NUMBER} '
                       f'(" arg " "-"? [0-9])?')
        current = p.callbacks[-1] if p.callbacks else None
        if pending and (current is None or self._closed(p, current)):
            lanes = f' (" lanes " {one_of(str(n) for n in self.lanes)})?'
            unroll = f' (" unroll " {one_of(str(n) for n in self.unrolls)})?'
            out.append(f'"\\n  callback " {one_of(pending)}{lanes}{unroll} ":"')
        if current is not None and len(current.body) < self.max_instructions:
            if instructions := self._instructions(p, current, accs):
                out.append('"\\n    " (' + " | ".join(instructions) + ")")
        return out

    @staticmethod
    def _closed(p: Program, cb) -> bool:
        """Whether callback ``cb`` may end: it popped each queue of its token, uses every value it defines,
        resets every accumulator it reads, and holds an instruction."""
        queues = _token_queues(p, cb.token)
        popped = [i.target for i in cb.body if i.op is OpKind.POP]
        read = {i.target for i in cb.body if i.op in (OpKind.READ, OpKind.READ_ARG)}
        reset = {i.target for i in cb.body if i.op is OpKind.RESET}
        return bool(cb.body) and sorted(popped) == sorted(queues) and not _unused(cb) and read <= reset

    def _must_consume(self, cb, pops_left: int, effect: bool = False, stores: bool = True) -> int:
        """How many values no instruction uses yet the next instruction must use (a value computed, or with
        ``effect`` a store or an update; ``stores``: one that stores as the agent's check counts it), so that
        the callback can still end within ``max_instructions`` (3: none can come). Ending takes an
        instruction per pop left and per reset due, one per value unused (a popped one too: an op of two
        makes one, a store uses one at an index not stored yet), and an index (``count``) where nothing is
        stored or updated yet."""
        unused = len(_unused(cb))
        # a store_max, _min or _mul is not yet a store (the agent's check asks for a store or a store_add)
        effects = (effect and stores) or any(i.op in (OpKind.STORE, OpKind.STORE_ADD, OpKind.UPDATE, OpKind.RESET)
                                            for i in cb.body)
        read = {i.target for i in cb.body if i.op in (OpKind.READ, OpKind.READ_ARG)}
        resets_due = len(read - {i.target for i in cb.body if i.op is OpKind.RESET})
        room = self.max_instructions - len(cb.body) - 1

        def cost(values_unused: int) -> int:
            return 2 * pops_left + resets_due + values_unused + (0 if effects else 1)

        return next((k for k in range(3) if cost(unused + (0 if effect else 1) - k) <= room), 3)

    def _instructions(self, p: Program, cb, accs) -> list[str]:
        """The instructions that may come next in callback ``cb``: pops of its token's queues not yet popped,
        values computed from values defined (a row's dot only of rows), then, once every queue is popped
        (and then only, so that a callback cannot compute after its first effect), stores, updates and
        resets. A store's indices are integer scalars, its value a row where it writes a row and a scalar
        where it writes an element; a store op is not repeated at the same indices."""
        queues = _token_queues(p, cb.token)
        popped = {i.target for i in cb.body if i.op is OpKind.POP}
        types = value_types(p, cb)
        updated = {i.target for i in cb.body if i.op is OpKind.UPDATE}
        reset = {i.target for i in cb.body if i.op is OpKind.RESET}
        read = {i.target for i in cb.body if i.op in (OpKind.READ, OpKind.READ_ARG)}
        effects = any(i.op in STORE_KINDS or i.op in (OpKind.UPDATE, OpKind.RESET) for i in cb.body)
        unused = _unused(cb)
        consumed = self._must_consume(cb, len([q for q in queues if q not in popped]))

        def values(keep=lambda row, integer: True, among=None, numbers=True) -> str:
            names = [f'"%{v}"' for v, t in types.items() if keep(*t) and (among is None or v in among)]
            return "(" + " | ".join(names + ([self._number()] if numbers else [])) + ")"

        def operands(n: int, keep=lambda row, integer: True, numbers=True) -> str:
            """Operand lists of ``n`` values that use at least ``consumed`` distinct unused values."""
            mine = sorted(v for v in unused if keep(*types[v]))
            if not numbers and not any(keep(*t) for t in types.values()):
                return ""
            anything = values(keep, numbers=numbers)
            if consumed == 0:
                return ' ", " '.join([anything] * n)
            if consumed > n or len(mine) < consumed:
                return ""
            if consumed == 1:
                ours = values(keep, among=mine, numbers=False)
                return " | ".join(' ", " '.join(ours if k == j else anything for k in range(n)) for j in range(n))
            lists = []
            for j, k in itertools.combinations(range(n), 2):      # two distinct unused values, anywhere
                for a, b in itertools.permutations(mine, 2):
                    parts = [f'"%{a}"' if m == j else f'"%{b}"' if m == k else anything for m in range(n)]
                    lists.append(' ", " '.join(parts))
            return " | ".join(lists)

        out = []
        if not effects:
            assigned = []
            if consumed == 0 or not any(integer and not row for row, integer in types.values()):
                assigned.append('"count"')         # an index to store at, where there is none yet
            if consumed == 0:
                readable = [a for a in accs if a not in updated]
                if readable:
                    assigned.append(f'"read " {one_of(readable)}')
                if tracking := [a for a in readable if accs[a].tracks_arg]:
                    assigned.append(f'"read_arg " {one_of(tracking)}')
            if types and consumed <= 2:
                for n in sorted({OPERANDS[op] for op in _VALUE_OPS if op is not OpKind.DOT}):
                    ops = [op.value for op in _VALUE_OPS if OPERANDS[op] == n and op is not OpKind.DOT]
                    if listed := operands(n):
                        assigned.append(f'({alternatives(ops)}) " " ({listed})')
                if listed := operands(2, lambda row, _: row, numbers=False):
                    assigned.append(f'"{OpKind.DOT.value} " ({listed})')
                if listed := operands(1):
                    assigned.append(f'"{OpKind.CAST.value}." ({alternatives(d.value for d in DType)}) " " ({listed})')
            left = [q for q in queues if q not in popped]
            out += [f'"%{pop_value(q)} = pop {q}"' for q in left]
            if assigned:
                taken = set(types) | {pop_value(q) for q in left}
                out.append(f'"%" {fresh_name(taken)} " = " ({" | ".join(assigned)})')
        if [q for q in queues if q not in popped]:
            return out                                  # a callback pops its operands before its first effect
        row_sink = any(len(x.shape) == 2 for x in p.outputs) or any(a.width is not None for a in accs.values())
        if not effects and not row_sink and any(types[v][0] for v in unused):
            return out      # no effect takes a row, and none computes after the first: reduce the row first
        stored = {(i.target, i.args[:-1], i.op) for i in cb.body if i.op in STORE_KINDS}
        indices = [v for v, (row, integer) in types.items() if integer and not row]
        extents = value_extents(p, cb, stream_extents(p, dict(self.value_bounds)))
        consumed = self._must_consume(cb, 0, effect=True)
        weak = self._must_consume(cb, 0, effect=True, stores=False)     # store_max, _min, _mul

        def value_using(keep, fresh: int, taken=(), consumed=consumed) -> str | None:
            """A value for an effect whose other operands use ``fresh`` unused values: any where that is
            enough, else one nothing uses yet (None: none will do)."""
            if fresh >= consumed:
                return values(keep)
            mine = [v for v in unused - set(taken) if keep(*types[v])]
            return values(keep, among=mine, numbers=False) if fresh + 1 >= consumed and mine else None

        for x in p.outputs:
            for count in (1, 2)[:len(x.shape)]:
                keep = lambda row, _, e=count == len(x.shape): row != e       # noqa: E731
                fitting = [c for c in _index_tuples(indices, count)
                           if all(fits(extents.get(v), d) for v, d in zip(c, x.shape))]
                for op, sign in STORE_OPS.items():      # a store is not repeated at the same indices
                    need = consumed if op in (OpKind.STORE, OpKind.STORE_ADD) else weak
                    here = [(c, v) for c in fitting if (x.name, c, op) not in stored
                            and (v := value_using(keep, len(set(c) & unused), c, need)) is not None]
                    if here:
                        stores = " | ".join(f'"{", ".join("%" + i for i in c)}] {sign} " {v}' for c, v in here)
                        out.append(f'"{op.value} {x.name}[" ({stores})')
        for a, acc in accs.items():
            if a not in read and a not in reset:
                keep = lambda row, integer, w=acc.width is not None: row == w       # noqa: E731
                if not acc.tracks_arg:
                    if (value := value_using(keep, 0)) is not None:
                        out.append(f'"update {a}, " {value}')
                    continue
                arg_keep = lambda row, integer: integer and not row                   # noqa: E731
                for arg in [v for v in types if arg_keep(*types[v])] + [None]:
                    fresh = int(arg in unused)
                    if (value := value_using(keep, fresh, (arg,))) is not None:
                        out.append(f'"update {a}, " {value} ", " ' + (f'"%{arg}"' if arg else self._number()))
        due = [a for a in accs if a in read and a not in reset]
        out += [f'"reset {a}"' for a in accs if a not in updated and a not in reset and (a in due or not consumed)]
        return out

def _unused(cb) -> set[str]:
    """The values callback ``cb`` defines that no instruction of it uses."""
    used = {a for i in cb.body for a in i.args if isinstance(a, str)}
    return {i.result for i in cb.body if i.result is not None} - used


def _token_queues(p: Program, token: str) -> list[str]:
    """The queues the rules sending ``token`` push (every such rule pushes the same ones)."""
    return next(([q for q, _ in r.pushes] for r in p.rules if r.token == token), [])


def _index_tuples(names: list[str], count: int) -> list[tuple[str, ...]]:
    return [(a,) for a in names] if count == 1 else [(a, b) for a in names for b in names]


def value_types(p: Program, cb) -> dict[str, tuple[bool, bool]]:
    """Each value callback ``cb`` defines, as (is a row, is an integer): a pop's from its queue, ``count`` an
    integer scalar, a read from its accumulator (``read_arg`` an integer), a cast's its operand's shape with
    its dtype, ``dot`` a floating scalar, ``gt`` its operands' shape, integer (a mask); other ops a row where
    an operand is, integer where every operand is."""
    queues = {q.name: q for q in p.queues}
    accs = {a.name: a for a in p.accumulators}
    types: dict[str, tuple[bool, bool]] = {}
    for i in cb.body:
        if i.result is None:
            continue
        operands = [types.get(a, (False, True)) if isinstance(a, str) else (False, float(a).is_integer())
                    for a in i.args]
        row = any(r for r, _ in operands)
        if i.op is OpKind.POP:
            q = queues.get(i.target)
            types[i.result] = (q is not None and q.kind is QueueKind.ROW, q is not None and not q.dtype.is_float)
        elif i.op is OpKind.COUNT:
            types[i.result] = (False, True)
        elif i.op in (OpKind.READ, OpKind.READ_ARG):
            a = accs.get(i.target)
            integer = i.op is OpKind.READ_ARG or (a is not None and not a.dtype.is_float)
            types[i.result] = (a is not None and a.width is not None, integer)
        elif i.op is OpKind.CAST:
            types[i.result] = (row, not i.dtype.is_float)
        elif i.op is OpKind.DOT:
            types[i.result] = (False, False)
        elif i.op is OpKind.GT:
            types[i.result] = (row, True)
        elif i.op is OpKind.SELECT:
            types[i.result] = (row, all(n for _, n in operands[1:]))
        else:
            types[i.result] = (row, all(n for _, n in operands))
    return types
