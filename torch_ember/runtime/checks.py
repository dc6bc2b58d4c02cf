"""Input checks that cost one host-device round trip per region instead of one per check.

A check's condition is computed where the tensors live. On the CPU it is read at once. Inside
``deferred_checks`` (a region about to run on a GPU) the conditions stay on the device until the block
ends, are read back together in one transfer, and the first that failed raises its error, with the same
message as at once; only then may the region's kernels run, so a bad index never reaches one.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Callable

import torch

_pending: contextvars.ContextVar[list | None] = contextvars.ContextVar("ember_pending_checks", default=None)
_skipped: contextvars.ContextVar[bool] = contextvars.ContextVar("ember_skipped_checks", default=False)


def require(failed: torch.Tensor, raise_error: Callable[[], None]) -> None:
    """``failed`` (a one-element bool tensor) must be false; ``raise_error`` raises the check's error."""
    if _skipped.get():
        return
    pending = _pending.get()
    if pending is None:
        if bool(failed):
            raise_error()
    else:
        pending.append((failed.reshape(()), raise_error))


@contextlib.contextmanager
def deferred_checks(active: bool = True):
    """Read every ``require`` made inside the block in one transfer at its end (when ``active``)."""
    if not active or _pending.get() is not None:
        yield
        return
    token = _pending.set([])
    try:
        yield
        checks = _pending.get()
    finally:
        _pending.reset(token)
    if not checks:
        return
    # One check is read as it is: stacking it first costs a launch, which measured slower on an H200.
    flags = [bool(checks[0][0])] if len(checks) == 1 else torch.stack([c for c, _ in checks]).tolist()
    for failed, (_, raise_error) in zip(flags, checks):
        if failed:
            raise_error()


@contextlib.contextmanager
def skipped_checks():
    """Inside the block ``require`` checks nothing: for laying out tensors that hold no values (meta tensors,
    to learn a program's input dtypes as the graph is lowered)."""
    token = _skipped.set(True)
    try:
        yield
    finally:
        _skipped.reset(token)
