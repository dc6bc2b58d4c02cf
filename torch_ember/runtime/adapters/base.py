"""What every adapter shares: the contract (``RegionAdapter``), its defaults, and the checks and layouts
several op families use.

An adapter stands between an ATen op's arguments and its region's program (or kernels). It validates the
user's tensors in the user's terms (raising the exception type eager PyTorch raises, naming the table and
the bad value), maps them onto the program's named inputs (host-side layout only: flattening, appending
the last offset), and shapes the program's outputs as the ATen op returns them. ``reference`` runs the ATen
op itself, for the ``verify`` option and for tests; ``fake`` gives the outputs' shapes for tracing.
"""
from __future__ import annotations

import math
import re
from typing import Protocol

import torch

from ...region_spec import Epilogue, RegionSpec, SourceOp
from ..checks import require

aten = torch.ops.aten
_INDEX_DTYPES = (torch.int32, torch.int64)

class RegionAdapter(Protocol):
    """What the launch asks of the adapter of a region kind (``ADAPTERS``)."""

    def specialize(self, spec: RegionSpec, args: list) -> tuple[RegionSpec, list]:
        """A cheaper region for what these tensors really are (default: the region itself)."""

    def program_inputs(self, spec: RegionSpec, args: list) -> dict[str, torch.Tensor]:
        """The checked arguments under the program's input names."""

    def sizes(self, spec: RegionSpec, args: list) -> dict[str, int] | None:
        """Size symbols no input's shape gives (an output's row count, say)."""

    def finish(self, spec: RegionSpec, args: list, outputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The program's named outputs as the ATen op returns them."""

    def reference(self, spec: RegionSpec, args: list) -> list[torch.Tensor]:
        """The ATen op's own results."""

    def fake(self, spec: RegionSpec, args: list) -> list[torch.Tensor]:
        """The results' shapes and dtypes, from fake tensors."""


class AdapterDefaults:
    """The defaults of ``RegionAdapter``: no specialization, no extra sizes, fake results from the reference."""

    def specialize(self, spec, args):
        return spec, args

    def sizes(self, spec, args):
        return None

    def fake(self, spec, args):
        return self.reference(spec, args)

def check_index_dtype(t: torch.Tensor, what: str) -> None:
    if t.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"{what} must be an int32 or int64 tensor, but got {t.dtype}")


def _outside(index: torch.Tensor, size: int) -> torch.Tensor:
    flat = index.reshape(-1)
    return (flat < 0) | (flat >= size)


def out_of_range(index: torch.Tensor, size: int) -> torch.Tensor:
    """Whether any index lies outside ``[0, size)``: a bool tensor on the index's device."""
    return _outside(index, size).any()


def first_out_of_range(index: torch.Tensor, size: int) -> tuple[int, int]:
    """(position, value) of the first index outside ``[0, size)``, for the error once ``out_of_range``
    has found one."""
    position = int(torch.nonzero(_outside(index, size))[0])
    return position, int(index.reshape(-1)[position])


def check_indices(spec: RegionSpec, indices: torch.Tensor, rows: int, dim: int, error=RuntimeError) -> None:
    """Every index must name a row of the table; the first that does not is reported."""
    check_index_dtype(indices, f"indices for table {spec.table}")

    def report():
        position, value = first_out_of_range(indices, rows)
        raise error(f"index {value} is out of range for table {spec.table} with {rows} rows "
                    f"(shape ({rows}, {dim})), at position {position} of the indices")
    require(out_of_range(indices, rows), report)


def check_range(spec: RegionSpec, index: torch.Tensor, size: int, axis: int, error, *,
                wraps: bool = False) -> torch.Tensor:
    """The index, checked against ``size`` (and, where ``wraps``, negative ones turned into row numbers)."""
    check_index_dtype(index, f"index for {spec.table}")
    wrapped = torch.where(index < 0, index + size, index) if wraps else index

    def report():
        position, _ = first_out_of_range(wrapped, size)
        value = int(index.reshape(-1)[position])
        raise error(f"index {value} is out of bounds for dimension {axis} with size {size} "
                    f"({spec.op.value} on {spec.table}, at position {position} of the index)")
    require(out_of_range(wrapped, size), report)
    return wrapped


def gather_index_error(op: SourceOp, table: torch.Tensor) -> type[Exception] | None:
    """The exception eager PyTorch raises for a row gather's index out of range, None where it raises none:
    ``gather`` a RuntimeError; ``index_select`` and ``embedding`` an IndexError, but a RuntimeError on a table
    with no rows or rows of width zero (another of their kernels checks); ``x[index]`` an IndexError, and none
    on rows of width zero, which it does not read."""
    width = math.prod(table.shape[1:])
    if op is SourceOp.GATHER:
        return RuntimeError
    if op is SourceOp.INDEX:
        return None if width == 0 and table.shape[0] > 0 else IndexError
    return RuntimeError if width == 0 or table.shape[0] == 0 else IndexError


def scatter_index_error(op: SourceOp, destination: torch.Tensor) -> type[Exception]:
    """The exception eager PyTorch raises for a row scatter's index out of range: ``index_put`` and
    ``index_reduce`` an IndexError, ``index_add`` an IndexError into a 1-D destination and a RuntimeError
    otherwise, the broadcast ``scatter_*`` a RuntimeError."""
    if op in (SourceOp.INDEX_PUT, SourceOp.INDEX_REDUCE) or op is SourceOp.INDEX_ADD and destination.dim() == 1:
        return IndexError
    return RuntimeError


def check_same_dtype(spec: RegionSpec, destination: torch.Tensor, source: torch.Tensor) -> None:
    if source.dtype != destination.dtype:
        raise RuntimeError(f"{spec.op.value}(): self ({destination.dtype}) and source ({source.dtype}) must have the "
                           f"same scalar type (destination {spec.table})")


def rows(t: torch.Tensor, count: int | None = None) -> torch.Tensor:
    """``t`` as a 2-D table of ``count`` rows (default: its first dimension), each the rest flattened."""
    rows = t.shape[0] if count is None else count
    return t.reshape(rows, t.numel() // rows if rows else math.prod(t.shape[1:]))


def apply_epilogue(spec: RegionSpec, outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """The region's fused elementwise epilogue applied to its main output, the way the graph applied it
    (for back ends that compute the bare op: eager references, Triton kernels)."""
    if not spec.epilogue:
        return outputs
    main = outputs[0]
    for name, arg in spec.epilogue:
        main = torch.relu(main) if name is Epilogue.RELU else main * arg
    return [main] + list(outputs[1:])


def check_known_values(spec: RegionSpec, inputs: dict[str, torch.Tensor]) -> None:
    """The program was compiled knowing these inputs are aranges (its loops may not read them): check it."""
    for name, start, step in spec.known_values:
        if name not in inputs:
            continue                    # passed under another part's name (``shared``), checked there
        t = inputs[name]
        want = torch.arange(t.numel(), device=t.device) * step + start
        if t.dim() != 1 or not torch.equal(t.long(), want):
            raise RuntimeError(f"region {spec.name}: input {name} was compiled as arange(start={start}, "
                               f"step={step}) but holds other values")


# program inputs that hold indices: each element names a table row (or an element) read or updated
INDEX_INPUTS = frozenset({"indices", "index", "max_indices", "src", "dst"})


def lookups_of(spec: RegionSpec, inputs: dict[str, torch.Tensor]) -> int:
    """The report's lookups of one launch: index elements resolved, one per table row (or element) the region
    reads or updates through an index, for every kind (a batched region's shared index counts for each
    part that reads through it); offsets, counts and dense data are not lookups."""
    def is_index(name: str) -> bool:
        base = re.sub(r"^t\d+_", "", name)
        return base in INDEX_INPUTS and not inputs[name].is_floating_point()
    shared = sum(inputs[of].numel() for _, of in spec.shared if is_index(of))
    return sum(t.numel() for name, t in inputs.items() if is_index(name)) + shared
