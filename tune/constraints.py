"""Known constraints: boolean expressions over parameter names, parsed once and interpreted safely.

Scenario files come from users and their commands; the text is parsed with ``ast`` and walked by a small
interpreter that knows only the whitelisted nodes below, so nothing in it can reach attributes, imports or
arbitrary calls. ``eval`` is never used.
"""
from __future__ import annotations

import ast
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCTIONS = {"abs": abs, "min": min, "max": max, "len": len}
# Exponents are capped so a constraint cannot make the tuner compute astronomically large integers.
_MAX_EXPONENT = 64


def _pow(a: Any, b: Any) -> Any:
    if abs(b) > _MAX_EXPONENT:
        raise ValueError(f"exponent {b} is larger than {_MAX_EXPONENT}")
    return a**b


def _check(node: ast.AST, names: frozenset[str], text: str) -> None:
    """Reject any node outside the whitelist and any name that is not a parameter."""
    allowed = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Constant,
        ast.Name, ast.Load, ast.Tuple, ast.List, ast.Subscript, ast.Call, *_BINARY, *_UNARY, *_COMPARE,
    )
    for sub in ast.walk(node):
        if not isinstance(sub, allowed):
            raise ValueError(f"constraint {text!r}: {type(sub).__name__} is not allowed in a constraint")
        if isinstance(sub, ast.Call):
            if not isinstance(sub.func, ast.Name) or sub.func.id not in _FUNCTIONS or sub.keywords:
                raise ValueError(f"constraint {text!r}: only calls to {sorted(_FUNCTIONS)} are allowed")
        elif isinstance(sub, ast.Name) and sub.id not in names and sub.id not in _FUNCTIONS:
            raise ValueError(f"constraint {text!r}: unknown parameter {sub.id!r}")
        elif isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float, str, bool)):
            raise ValueError(f"constraint {text!r}: constant {sub.value!r} is not allowed")


def _evaluate(node: ast.AST, env: Mapping[str, Any]) -> Any:
    match node:
        case ast.Expression(body=body):
            return _evaluate(body, env)
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            return env[name]
        case ast.Tuple(elts=elts) | ast.List(elts=elts):
            return tuple(_evaluate(e, env) for e in elts)
        case ast.Subscript(value=value, slice=index):
            return _evaluate(value, env)[_evaluate(index, env)]
        case ast.UnaryOp(op=op, operand=operand):
            return _UNARY[type(op)](_evaluate(operand, env))
        case ast.BinOp(left=left, op=op, right=right):
            fn = _pow if isinstance(op, ast.Pow) else _BINARY[type(op)]
            return fn(_evaluate(left, env), _evaluate(right, env))
        case ast.BoolOp(op=ast.And(), values=values):
            return all(_evaluate(v, env) for v in values)
        case ast.BoolOp(op=ast.Or(), values=values):
            return any(_evaluate(v, env) for v in values)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            a = _evaluate(left, env)
            for op, right in zip(ops, comparators):
                b = _evaluate(right, env)
                if not _COMPARE[type(op)](a, b):
                    return False
                a = b
            return True
        case ast.Call(func=ast.Name(id=fn), args=args):
            return _FUNCTIONS[fn](*(_evaluate(a, env) for a in args))
    raise ValueError(f"cannot evaluate {ast.dump(node)}")  # unreachable after _check


@dataclass(frozen=True)
class Constraint:
    """One known constraint; ``holds(config)`` says whether a configuration satisfies it."""

    text: str
    tree: ast.Expression

    @classmethod
    def parse(cls, text: str, names: Iterable[str]) -> Constraint:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as err:
            raise ValueError(f"constraint {text!r} is not a valid expression: {err.msg}") from None
        _check(tree, frozenset(names), text)
        return cls(text, tree)

    @property
    def names(self) -> frozenset[str]:
        """The parameters the constraint reads (not the functions it calls)."""
        called = {n.func.id for n in ast.walk(self.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        return frozenset(n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id not in called)

    def holds(self, config: Mapping[str, Any]) -> bool:
        try:
            return bool(_evaluate(self.tree, config))
        except (ArithmeticError, IndexError, TypeError, ValueError) as err:
            raise ValueError(f"constraint {self.text!r} failed on {dict(config)!r}: {err}") from err
