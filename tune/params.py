"""The five parameter types of a tuning space.

Each parameter knows how to map points of the unit cube onto its values (so one design of experiments
serves every type), how to encode a value as numbers for the surrogates, and which values are its
neighbours (so the acquisition optimizer can walk the space without knowing the types).
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Value = Any


class ParamKind(enum.Enum):
    """How a parameter is encoded and which kernel models it."""

    REAL = "real"
    INTEGER = "integer"
    ORDINAL = "ordinal"
    CATEGORICAL = "categorical"
    PERMUTATION = "permutation"


# Reals are resampled around the current value with this standard deviation (in unit space).
_LOCAL_STEP = 0.1
# How many resampled neighbours a real (or a wide integer range) offers.
_LOCAL_SAMPLES = 3
# A permutation offers at most this many neighbours (all of them up to n = 10, which has 145).
_MAX_PERMUTATION_MOVES = 160


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name {name!r} must be a Python identifier")


def _check_values(name: str, values: tuple) -> None:
    if len(values) == 0:
        raise ValueError(f"parameter {name!r}: values must not be empty")
    if len(set(values)) != len(values):
        raise ValueError(f"parameter {name!r}: values must be distinct, got {values!r}")


@dataclass(frozen=True)
class Real:
    """A float in [lo, hi], searched on a log scale when ``log`` (for rates, sizes spanning decades)."""

    name: str
    lo: float
    hi: float
    log: bool = False
    kind = ParamKind.REAL
    width = 1

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.lo > self.hi:
            raise ValueError(f"parameter {self.name!r}: need finite lo <= hi, got lo={self.lo}, hi={self.hi}")
        if self.log and self.lo <= 0:
            raise ValueError(f"parameter {self.name!r}: a log scale needs lo > 0, got lo={self.lo}")

    def _span(self) -> tuple[float, float]:
        return (math.log(self.lo), math.log(self.hi)) if self.log else (self.lo, self.hi)

    def from_unit(self, u: np.ndarray) -> float:
        a, b = self._span()
        x = a + float(u[0]) * (b - a)
        return min(max(math.exp(x) if self.log else x, self.lo), self.hi)

    def encode(self, value: float) -> list[float]:
        a, b = self._span()
        x = math.log(value) if self.log else value
        return [0.0 if b == a else (x - a) / (b - a)]

    def neighbours(self, value: float, rng: np.random.Generator) -> list[float]:
        u = self.encode(value)[0]
        steps = np.clip(u + rng.normal(0.0, _LOCAL_STEP, _LOCAL_SAMPLES), 0.0, 1.0)
        return [v for v in (self.from_unit([s]) for s in steps) if v != value]


@dataclass(frozen=True)
class Integer:
    """An int in [lo, hi] (both included)."""

    name: str
    lo: int
    hi: int
    kind = ParamKind.INTEGER
    width = 1

    def __post_init__(self) -> None:
        _check_name(self.name)
        if int(self.lo) != self.lo or int(self.hi) != self.hi:
            raise ValueError(f"parameter {self.name!r}: lo and hi must be integers, got {self.lo}, {self.hi}")
        if self.lo > self.hi:
            raise ValueError(f"parameter {self.name!r}: lo={self.lo} > hi={self.hi}")

    def from_unit(self, u: np.ndarray) -> int:
        return min(self.lo + int(float(u[0]) * (self.hi - self.lo + 1)), self.hi)

    def encode(self, value: int) -> list[float]:
        return [0.0 if self.hi == self.lo else (value - self.lo) / (self.hi - self.lo)]

    def neighbours(self, value: int, rng: np.random.Generator) -> list[int]:
        """One step either way, plus a few local jumps so wide ranges are not crawled one by one."""
        jumps = np.rint(value + rng.normal(0.0, _LOCAL_STEP * (self.hi - self.lo), _LOCAL_SAMPLES)).astype(int)
        near = [value - 1, value + 1, *(int(j) for j in jumps)]
        return sorted({v for v in near if self.lo <= v <= self.hi and v != value})


def _pick(values: tuple, u: np.ndarray) -> Value:
    """The value a unit-interval sample falls on, the list split into equal parts."""
    return values[min(int(float(u[0]) * len(values)), len(values) - 1)]


@dataclass(frozen=True)
class Ordinal:
    """One of a list of ordered values (e.g. powers of two); neighbours are adjacent in the list."""

    name: str
    values: tuple
    kind = ParamKind.ORDINAL
    width = 1

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "values", tuple(self.values))
        _check_values(self.name, self.values)

    def from_unit(self, u: np.ndarray) -> Value:
        return _pick(self.values, u)

    def encode(self, value: Value) -> list[float]:
        n = len(self.values)
        return [0.0 if n == 1 else self.values.index(value) / (n - 1)]

    def neighbours(self, value: Value, rng: np.random.Generator) -> list[Value]:
        i = self.values.index(value)
        return [self.values[j] for j in (i - 1, i + 1) if 0 <= j < len(self.values)]


@dataclass(frozen=True)
class Categorical:
    """One of unordered choices; encoded as its index, compared only for equality by the kernels."""

    name: str
    values: tuple
    kind = ParamKind.CATEGORICAL
    width = 1

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "values", tuple(self.values))
        _check_values(self.name, self.values)

    def from_unit(self, u: np.ndarray) -> Value:
        return _pick(self.values, u)

    def encode(self, value: Value) -> list[float]:
        return [float(self.values.index(value))]

    def neighbours(self, value: Value, rng: np.random.Generator) -> list[Value]:
        return [v for v in self.values if v != value]


@dataclass(frozen=True)
class Permutation:
    """An ordering of 0..n-1 (loop orders, schedules, tours), as a tuple; neighbours are one swap, insertion
    or segment reversal away."""

    name: str
    n: int
    kind = ParamKind.PERMUTATION

    def __post_init__(self) -> None:
        _check_name(self.name)
        if int(self.n) != self.n or self.n < 1:
            raise ValueError(f"parameter {self.name!r}: n must be a positive integer, got {self.n}")

    @property
    def width(self) -> int:
        return self.n

    def from_unit(self, u: np.ndarray) -> tuple[int, ...]:
        """The ranks of n uniform numbers are a uniformly random permutation."""
        return tuple(int(i) for i in np.argsort(np.asarray(u, dtype=float), kind="stable"))

    def encode(self, value: tuple[int, ...]) -> list[float]:
        return [float(v) for v in value]

    def neighbours(self, value: tuple[int, ...], rng: np.random.Generator) -> list[tuple[int, ...]]:
        """Every ordering one move away: swap two elements, move one element elsewhere (insertion), or
        reverse a segment (a 2-opt move, which keeps all but two neighbouring pairs). Above
        ``_MAX_PERMUTATION_MOVES`` distinct results, a random subset of that size."""
        n, out = self.n, {}
        for i in range(n):
            for j in range(i + 1, n):
                swapped = list(value)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                out[tuple(swapped)] = None
                out[value[:i] + value[i:j + 1][::-1] + value[j + 1:]] = None
            for j in range(n):
                if j != i:
                    rest = value[:i] + value[i + 1:]
                    out[rest[:j] + (value[i],) + rest[j:]] = None
        moves = list(out)
        if len(moves) > _MAX_PERMUTATION_MOVES:
            keep = np.sort(rng.choice(len(moves), _MAX_PERMUTATION_MOVES, replace=False))
            moves = [moves[k] for k in keep]
        return moves


Param = Real | Integer | Ordinal | Categorical | Permutation
