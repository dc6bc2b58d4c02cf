"""Double backward through a compiled graph raises, as it does under Inductor, instead of silently dropping
terms.

AOTAutograd runs a compiled backward under ``create_graph=True`` inside a function whose own backward
raises "does not currently support double backward", but only reaches that guard where the gradient it
returns depends on the inputs through the autograd graph. Its default partition (ember's) saves
intermediates detached: ``y = gather(x, ...)`` then ``y.pow(3).sum()`` in one graph saves ``y``, so the
first derivative ``3 * y**2`` scattered back depends on ``x`` only through a detached tensor, and a second
``torch.autograd.grad(..., x)`` never visits the guard: it returns the first-order term alone (Inductor's
min-cut partition saves ``x`` and raises). Here, under ``create_graph=True``, the gradient reaching each
output is tied to the graph's inputs that need gradients, so every second backward to them passes
AOTAutograd's guard.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import torch


class _TiedToInputs(torch.autograd.Function):
    """The gradient as it is, in an autograd graph that leads to ``inputs`` (never differentiated: the
    compiled backward it feeds raises first)."""

    @staticmethod
    def forward(ctx, grad: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        return grad.view_as(grad)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("torch.compile with the ember backend does not support double backward")


def guard_double_backward(compiled: Callable, parameters: list[torch.Tensor]) -> Callable:
    """``compiled`` (``aot_module_simplified``'s function, either calling convention) with the gradients of
    its outputs tied to its inputs that need gradients when a backward runs under ``create_graph=True``.
    ``parameters``: those it holds itself rather than takes as arguments."""

    @functools.wraps(compiled)
    def run(*args):
        if not torch.is_grad_enabled():
            return compiled(*args)
        flat = args[0] if len(args) == 1 and isinstance(args[0], list) else args     # boxed: one list, cleared
        needing = [t for t in (*parameters, *flat) if isinstance(t, torch.Tensor) and t.requires_grad]
        outputs = compiled(*args)
        if needing:
            for out in outputs if isinstance(outputs, (list, tuple)) else (outputs,):
                if isinstance(out, torch.Tensor) and out.grad_fn is not None:
                    out.register_hook(functools.partial(_tie, needing))
        return outputs
    return run


def _tie(inputs: list[torch.Tensor], grad: torch.Tensor) -> torch.Tensor | None:
    """A hook on an output's gradient: grad mode is on in a backward only under ``create_graph=True``."""
    return _TiedToInputs.apply(grad, *inputs) if torch.is_grad_enabled() else None
