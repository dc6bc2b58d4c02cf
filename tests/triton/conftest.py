"""The Triton kernels run here on CPU tensors through Triton's interpreter.

``triton.jit`` chooses the interpreter when it decorates a function, so the switch is set before any test
imports ``torch_ember.triton``. In a whole-suite run, triton has usually been imported earlier (torch's
compiler imports it), so its own library functions (``tl.sum``, ``tl.zeros``...) were decorated for
compilation; ``_interpreted_language`` swaps in interpreted twins of them while these tests run and puts
the originals back afterwards.
"""
import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.runtime.interpreter import InterpretedFunction  # noqa: E402
from triton.runtime.jit import JITFunction  # noqa: E402

from torch_ember.runtime.adapters import ADAPTERS  # noqa: E402


@pytest.fixture(scope="package", autouse=True)
def _interpreted_language():
    swapped, twins = [], {}
    for owner in (tl, tl.standard, tl.math, tl.core, tl.tensor):
        for name, value in list(vars(owner).items()):
            if isinstance(value, JITFunction):
                swapped.append((owner, name, value))
                setattr(owner, name, twins.setdefault(id(value), InterpretedFunction(value.fn)))
    yield
    for owner, name, value in swapped:
        setattr(owner, name, value)


def _check_region(spec, args, tol=1e-5):
    """The Triton path's results equal the region's ATen reference: shapes, dtypes, values."""
    from torch_ember.triton import run_region

    got, want = run_region(spec, list(args)), ADAPTERS[spec.kind].reference(spec, list(args))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (k, g.shape, w.shape, g.dtype, w.dtype)
        if w.is_floating_point():
            torch.testing.assert_close(g, w, rtol=tol, atol=tol, equal_nan=True, msg=lambda m: f"output {k}: {m}")
        else:
            assert torch.equal(g, w), f"output {k}: {g} != {w}"
    return got


@pytest.fixture
def check_region():
    return _check_region
