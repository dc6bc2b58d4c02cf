"""GBNF expressions for the names and numbers a piece of a DAE program may write (``scoped_grammar``): a
fresh name bounded so that it cannot go on from a taken one, the names the piece grammars give (a queue after
the stream it first carries, the value a callback pops it into), and constants."""
from __future__ import annotations

import itertools

from .grammar import alternatives

_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_REST = _FIRST + "0123456789"
NAME_LENGTH = 12                    # a fresh name's most characters (the expert programs' longest is 8)
ROW = "row"                         # the start of a row load's name, and of no other stream's
NUMBER = '"-"? ("inf" | [0-9]{1,19} ("." [0-9]{1,19})? ([eE] [+-]? [0-9]{1,3})?)'     # any number


def fresh_name(taken, length: int = NAME_LENGTH, first: str = _FIRST, rest: str = _REST, extend: bool = False,
               start: str = "", avoid: str | None = None) -> str:
    """A GBNF expression for any name (``[A-Za-z_][A-Za-z0-9_]*``, at most ``length`` characters; or another
    alphabet: ``first`` and ``rest``) that is not in ``taken``: a trie of the taken names, each node letting
    the name end there unless that prefix is taken. Unless ``extend``, a name does not go on from a taken one
    (from a taken letter, only not with ``_`` or a digit: ``row`` may follow ``r``): SmolLM2 names each new
    stream after the last (``row``, ``row_idx``, ``row_idx_idx``, ``row_idx_idx1``, ...; ``idx``,
    ``idxi``, ``idxii``, ...), spending tokens on names that then steer what it writes."""
    taken = {t for t in taken if 0 < len(t) <= length}
    joints = "_0123456789"
    blocked = taken | ({avoid} if avoid else set())

    def after(prefix: str) -> str | None:
        """The rest of a name written up to ``prefix`` (None: it cannot be completed; "": it ends here)."""
        if prefix == avoid or (prefix in taken and len(prefix) > 1 and not extend):
            return None
        alternatives = []
        if len(prefix) < length:
            banned = joints if prefix in taken and not extend else ""
            children = sorted({t[len(prefix)] for t in blocked if len(t) > len(prefix) and t.startswith(prefix)})
            for c in children:
                tail = after(prefix + c) if c not in banned else None
                if tail is not None:
                    alternatives.append(f'"{c}" {tail}'.strip())
            if others := "".join(c for c in (rest if prefix else first) if c not in children and c not in banned):
                room = length - len(prefix) - 1
                alternatives.append(f"[{others}]" + (f" [{rest}]{{0,{room}}}" if room else ""))
        ends = bool(prefix) and prefix not in taken
        if not alternatives:
            return "" if ends else None
        return f"({' | '.join(alternatives)})" + ("?" if ends else "")

    if not start:
        return after("")
    tail = after(start)
    return None if tail is None else f'"{start}" {tail}'.strip()


def queue_name(stream: str, taken) -> str:
    """The name of a new queue that first carries ``stream``: ``q_`` and the stream's name (``_2``, ``_3``, ...
    added where that is taken). The grammar gives it: SmolLM2's own queue names (``q_row_row_16``) steered
    what it pushed into them. Its callback pops it into the value of the stream's name (``pop_value``)."""
    name = f"q_{stream}"
    return next(n for n in itertools.chain([name], (f"{name}_{k}" for k in itertools.count(2))) if n not in taken)


def pop_value(queue: str) -> str:
    """The value a callback pops ``queue`` into: the name of the stream it was named after (``queue_name``)."""
    return queue.removeprefix("q_")


def fresh_number(taken) -> str:
    """A GBNF expression for any non-negative integer constant (no leading zero, at most 9 digits) not in
    ``taken``."""
    taken = {str(t) for t in taken}
    nonzero = fresh_name(taken - {"0"}, 9, first="123456789", rest="0123456789", extend=True)
    return nonzero if "0" in taken else f'("0" | {nonzero})'


def one_of(words) -> str:
    """A GBNF choice of ``words`` ("" where there are none)."""
    words = list(words)
    return f"({alternatives(words)})" if words else ""
