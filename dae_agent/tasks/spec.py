"""What a benchmark task is: input specs, a PyTorch reference, the program's signature and an expert program.

The expert program validates the task itself (tests check it verifies) and is never put in a prompt; its
text is ``programs/<task name>.dae`` next to this module.
Sizes are symbolic: each case binds every symbol, so a candidate must work for empty bags, duplicate
indices and several sizes, not for one shape it may have guessed.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from dae_emulator.program import DType


class Group(enum.Enum):
    """What the task lowers, as the compiler groups it."""

    GATHER = "gather"
    SCATTER = "scatter_add"
    BAG_SUM = "embedding_bag_sum"
    BAG_MEAN = "embedding_bag_mean"
    BAG_MAX = "embedding_bag_max"
    MULTI_TABLE = "multi_table"
    SEGMENT = "segment_reduction"
    SPMM = "spmm_message_passing"
    MOE = "moe_dispatch_combine"
    GATHER_ELEMENTWISE = "gather_elementwise"


class Gen(enum.Enum):
    """How an input is drawn."""

    NORMAL = "normal"        # floats ~ N(0, 1)
    UNIFORM = "uniform"      # floats in [0, 1): weights, gates
    INDEX = "index"          # integers in [0, bound), with duplicates (and ``pad`` entries if given)
    OFFSETS = "offsets"      # nondecreasing bag boundaries from 0 to ``bound``, some bags empty


@dataclass(frozen=True)
class TensorSpec:
    """One parameter. ``dims`` are size symbols, ``symbol - k`` or constants; ``bound`` is the symbol (or constant) an
    INDEX draws below or the total an OFFSETS reaches."""

    name: str
    dtype: DType
    dims: tuple[str | int, ...]
    gen: Gen = Gen.NORMAL
    bound: str | int | None = None
    pad: int | None = None

    def dim_text(self) -> str:
        return ", ".join(str(d) for d in self.dims)


@dataclass(frozen=True)
class OutputSpec:
    """One output. ``exact``: compared bit for bit (integers, gathered rows); otherwise within the task's
    float tolerance."""

    name: str
    dtype: DType
    dims: tuple[str | int, ...]
    exact: bool = False

    def dim_text(self) -> str:
        return ", ".join(str(d) for d in self.dims)


Reference = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Task:
    name: str
    group: Group
    level: int                                  # 1 one loop, 2 nested loops / accumulators, 3 several of those
    description: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[OutputSpec, ...]
    reference: Reference
    expert: str                                 # never shown to a model
    cases: tuple[dict[str, int], ...]           # every symbol of dims bound, per case
    bench: dict[str, int]                       # the size the modeled cycles are reported at
    rtol: float = 1e-5
    atol: float = 1e-5

    def signature(self) -> str:
        """The parameter lines a program for this task must declare, in the DAE text syntax."""
        lines = [f"param {t.name}: {t.dtype.value}[{t.dim_text()}]" for t in self.inputs]
        lines += [f"output {o.name}: {o.dtype.value}[{o.dim_text()}]" for o in self.outputs]
        return "\n".join(lines)


def expert_program(name: str) -> str:
    """The expert program of task ``name``, as its ``.dae`` file holds it."""
    return (Path(__file__).parent / "programs" / f"{name}.dae").read_text(encoding="utf-8")


def size_of(dim: str | int, sizes: dict[str, int]) -> int:
    """A dim's value: a constant, a symbol, or ``symbol - k`` (``num_offsets - 1`` counts bags)."""
    if isinstance(dim, int):
        return dim
    symbol, _, minus = dim.partition(" - ")
    return sizes[symbol] - int(minus or 0)
