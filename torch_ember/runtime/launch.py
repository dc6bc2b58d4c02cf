"""Launch one region on a ``RegionDevice``: run first what the region needs made before it (a segment
backward's ties or products), run the region, and check it against eager PyTorch when asked.

Two devices implement the protocol: the emulated DAE device (``runtime.dae.DaeDevice``, whose programs a
``ProgramSource`` gives) and a GPU's Triton kernels (``triton.device.TritonDevice``). The runtime compiles
nothing: programs come compiled from the lowering, through the source."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from dae_emulator.program import DType, Program

from ..region_spec import RegionSpec
from .adapters import ADAPTERS, apply_epilogue, prepass_args

ProgramDtypes = tuple[tuple[str, DType], ...]     # (input name, dtype), sorted by name


@dataclass(frozen=True)
class Layout:
    """A region's arguments as its program takes them: the region specialized for what the tensors are, the
    arguments it then takes, the program's named inputs, and the sizes no input binds."""

    spec: RegionSpec
    args: list[torch.Tensor]
    inputs: dict[str, torch.Tensor]
    sizes: dict[str, int] | None

    @staticmethod
    def of(spec: RegionSpec, args: list[torch.Tensor]) -> "Layout":
        spec, args = ADAPTERS[spec.kind].specialize(spec, args)   # a cheaper program for what these tensors are
        adapter = ADAPTERS[spec.kind]
        return Layout(spec, args, adapter.program_inputs(spec, args), adapter.sizes(spec, args))


class ProgramSource(Protocol):
    """Where the DAE device gets a region's program for its inputs' dtypes."""

    def program(self, spec: RegionSpec, dtypes: ProgramDtypes) -> Program: ...

    def in_pieces(self, spec: RegionSpec, dtypes: ProgramDtypes, inputs: dict[str, torch.Tensor],
                  sizes: dict[str, int] | None) -> Program | None:
        """The program with rows pushed in pieces that fit the scratchpad for these inputs (None: none fits)."""


class RegionDevice(Protocol):
    """Runs a region on its arguments and gives the ATen op's results, its fused epilogue applied."""

    def run(self, spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]: ...


def launch(spec: RegionSpec, args: list[torch.Tensor], device: RegionDevice, verify: bool = False) -> list[torch.Tensor]:
    """Run one region. Under ``torch.profiler`` it is the event ``ember::<region>``."""
    prepass = spec.prepass()
    if prepass is not None:    # a max, min or prod segment backward runs a program over its segments first
        args = [*args, *launch(prepass, prepass_args(args), device, verify)]
    with torch.profiler.record_function(f"ember::{spec.key}"):
        outputs = device.run(spec, args)
        if verify:
            compare(spec, args, outputs, host_outputs(spec, args))
    return outputs


_DTYPES = {torch.float32: DType.F32, torch.float16: DType.F16, torch.bfloat16: DType.BF16,
           torch.float64: DType.F64, torch.int32: DType.I32, torch.int64: DType.I64, torch.bool: DType.BOOL}


def program_dtypes(inputs: dict[str, torch.Tensor]) -> ProgramDtypes:
    """The key a program is compiled for: its inputs' dtypes."""
    return tuple(sorted((name, _DTYPES[t.dtype]) for name, t in inputs.items()))


def _close(got: torch.Tensor, want: torch.Tensor, tol: float) -> bool:
    """``torch.allclose(got, want, rtol=tol, atol=tol, equal_nan=True)``, about 4x faster where it holds (a
    sampled launch compares whole dense gradients): one bound check first, allclose only to decide a miss."""
    if bool((torch.sub(got, want).abs_() <= want.abs().mul_(tol).add_(tol)).all()):
        return True
    return torch.allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def host_outputs(spec: RegionSpec, args: list[torch.Tensor]) -> list[torch.Tensor]:
    """The region's results from the host's own kernel: the ATen op it replaces, its epilogue applied."""
    return apply_epilogue(spec, ADAPTERS[spec.kind].reference(spec, args))


_HALF = (torch.float16, torch.bfloat16)


def _no_less_accurate(got: torch.Tensor, want: torch.Tensor, exact: torch.Tensor, tol: float) -> bool:
    """Whether every element of ``got`` is as close to the float64 result as eager's is, or close to eager's
    (a half-precision sum accumulated in f32 and rounded once differs from eager's, and is no worse)."""
    exact = exact.double()
    slack = tol * (1 + exact.abs())
    closer = (got.double() - exact).abs() <= (want.double() - exact).abs() + slack
    return bool((closer | torch.isclose(got, want, rtol=tol, atol=tol, equal_nan=True)).all())


def compare(spec: RegionSpec, args: list[torch.Tensor], got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    """Raise if the region's outputs ``got`` differ from eager's ``want`` for ``args``."""
    exact = None
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            raise RuntimeError(f"verify: region {spec.name} output {k} has shape {tuple(g.shape)}, eager gives "
                               f"{tuple(w.shape)}")
        tol = 1e-2 if w.dtype in _HALF else 1e-4
        if w.is_floating_point() and not _close(g, w, tol):
            if w.dtype in _HALF:
                exact = exact or host_outputs(spec, [a.double() if a.is_floating_point() else a for a in args])
                if _no_less_accurate(g, w, exact[k], tol):
                    continue
            raise RuntimeError(f"verify: region {spec.name} output {k} differs from eager by "
                               f"{(g - w).abs().max().item():.3g}")
        if not w.is_floating_point() and not torch.equal(g, w):
            raise RuntimeError(f"verify: region {spec.name} output {k} differs from eager")
