"""What a registry entry is: a capability check that gives a reason when it says no, a spec builder, and
the tensor arguments the region takes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import statically_known_true

from ..region_spec import RegionSpec

FLOATS = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
# node meta set by canonicalize where it rewrote one op as another: the SourceOp the user wrote, whose errors
# the region raises
WRITTEN_AS = "ember_written_as"


@dataclass(frozen=True)
class Lowering:
    check: Callable[[dict], str | None]                 # normalized kwargs -> reason it stays on the host
    spec: Callable[[dict, str], RegionSpec]             # normalized kwargs, table name -> spec
    tensor_args: Callable[[dict], list]                 # normalized kwargs -> tensor arguments, in order
    table_key: str                                      # the argument named in messages ("table ...")


def meta(value):
    """The fake tensor (shape, dtype, device) an FX node carries, or None."""
    return value.meta.get("val") if isinstance(value, torch.fx.Node) else None


def same_size(a, b) -> bool:
    """Whether two sizes (ints, or symbolic sizes under dynamic shapes) are equal for every input."""
    return a == b if isinstance(a, int) and isinstance(b, int) else statically_known_true(a == b)


INTEGERS = (torch.int32, torch.int64)


def tensor_checks(data, *, integers: bool = False) -> str | None:
    """Data a region can hold: floating point (and, for pure gathers, integers); where it may live is
    the matcher's question (the emulator takes CPU tensors, the Triton path GPU ones)."""
    if data is None:
        return "the data's shape is unknown at compile time"
    allowed = FLOATS + INTEGERS if integers else FLOATS
    if data.dtype not in allowed:
        return f"dtype {data.dtype} is not lowered ({', '.join(str(d).removeprefix('torch.') for d in allowed)} are)"
    return None


def node_kwargs(node: torch.fx.Node) -> dict:
    """Every argument of an ATen call by its schema name, defaults filled in (the node is left as it is)."""
    kwargs = {}
    for position, argument in enumerate(node.target._schema.arguments):
        if position < len(node.args):
            kwargs[argument.name] = node.args[position]
        elif argument.name in node.kwargs:
            kwargs[argument.name] = node.kwargs[argument.name]
        elif argument.has_default_value():
            kwargs[argument.name] = argument.default_value
    return kwargs
