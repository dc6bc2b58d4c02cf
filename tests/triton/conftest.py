"""The Triton kernels run here on CPU tensors through Triton's interpreter.

``triton.jit`` chooses the interpreter when it decorates a function, so the switch is set before any test
imports ``torch_ember.triton``. In a whole-suite run, triton has usually been imported earlier (torch's
compiler imports it), so its own library functions (``tl.sum``, ``tl.zeros``...) were decorated for
compilation; ``_interpreted_language`` swaps in interpreted twins of them while these tests run and puts
the originals back afterwards.

With ``EMBER_TRITON_DEVICE=cuda`` (on a GPU machine) the kernels are compiled and run on the GPU instead:
``check_region`` moves each test's tensors there and compares with the ATen reference run there too, and
the tests that build CPU-only fixtures of their own are left out.
"""
import os

ON_CUDA = os.environ.get("EMBER_TRITON_DEVICE") == "cuda"
if not ON_CUDA:
    os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.runtime.interpreter import InterpretedFunction  # noqa: E402
from triton.runtime.jit import JITFunction  # noqa: E402

from torch_ember.runtime.adapters import ADAPTERS  # noqa: E402
from torch_ember.region_spec import RegionKind  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """On the GPU, only the tests that go through ``check_region`` (whose tensors it moves there)."""
    if ON_CUDA:
        if not torch.cuda.is_available():
            raise pytest.UsageError("EMBER_TRITON_DEVICE=cuda, but torch sees no CUDA device")
        skip = pytest.mark.skip(reason="builds CPU tensors of its own; runs under the interpreter")
        for item in items:
            if item.path.parent.name == "triton" and "check_region" not in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture(scope="package", autouse=True)
def _interpreted_language():
    if ON_CUDA:
        yield
        return
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

    if ON_CUDA:
        args = [a.cuda() for a in args]
    got, want = run_region(spec, list(args)), ADAPTERS[spec.kind].reference(spec, list(args))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        if ON_CUDA and spec.kind is RegionKind.EMBEDDING_BAG and spec.include_last_offset and k == 2:
            g, w = g[:-1], w[:-1]   # CUDA's bag_size has one entry per offset; it leaves the last unwritten
        assert g.shape == w.shape and g.dtype == w.dtype, (k, g.shape, w.shape, g.dtype, w.dtype)
        if w.is_floating_point():
            torch.testing.assert_close(g, w, rtol=tol, atol=tol, equal_nan=True, msg=lambda m: f"output {k}: {m}")
        else:
            assert torch.equal(g, w), f"output {k}: {g} != {w}"
    return got


@pytest.fixture
def check_region():
    return _check_region
