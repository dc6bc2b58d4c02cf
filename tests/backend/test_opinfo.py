"""PyTorch's own OpInfo samples of every op the backend lowers or claims, through ``backend="ember"``, against
eager: forward, and backward where the op has a gradient, in float32 and bfloat16 (the way PyTorch tests its
own backends). Each test prints how many of its samples launched a region on the DAE device; the samples
that launch none are those the device cannot express (README: what stays on the host, and why).
"""
from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch.testing._internal.common_methods_invocations import op_db
from torch.utils import _pytree as pytree

import torch_ember
from torch_ember.session import current_session

OPS = [
    ("nn.functional.embedding", ""), ("nn.functional.embedding_bag", ""), ("gather", ""), ("index_select", ""),
    ("index_add", ""), ("index_put", ""), ("index_reduce", "mean"), ("index_reduce", "prod"),
    ("index_reduce", "amax"), ("index_reduce", "amin"), ("scatter_add", ""), ("scatter_reduce", "sum"),
    ("scatter_reduce", "prod"), ("scatter_reduce", "mean"), ("scatter_reduce", "amax"), ("scatter_reduce", "amin"),
    ("take_along_dim", ""), ("take", ""), ("_segment_reduce", "lengths"), ("_segment_reduce", "offsets"),
    ("index_fill", ""), ("put", ""),
]
DTYPES = [torch.float32, torch.bfloat16]
TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.bfloat16: dict(rtol=2e-2, atol=2e-2)}
_INFOS = {(o.name, o.variant_test_name): o for o in op_db}


def _split(sample):
    """The sample's tensors (the compiled function's inputs) and a way to put them back into the call."""
    flat, spec = pytree.tree_flatten((sample.input, sample.args, sample.kwargs))
    where = [k for k, v in enumerate(flat) if isinstance(v, torch.Tensor)]

    def call(op, tensors):
        values = list(flat)
        for k, t in zip(where, tensors):
            values[k] = t
        x, args, kwargs = pytree.tree_unflatten(values, spec)
        return op(x, *args, **kwargs)
    return [flat[k] for k in where], call


def _run(fn, tensors, differentiable: bool):
    """Outputs (and gradients of the floating-point inputs, given a fixed random upstream gradient)."""
    leaves = [t.detach().clone().requires_grad_(differentiable and t.is_floating_point()) for t in tensors]
    try:
        outputs = [o for o in pytree.tree_leaves(fn(*leaves)) if isinstance(o, torch.Tensor)]
        grads = []
        if differentiable and any(o.requires_grad for o in outputs):
            gen = torch.Generator().manual_seed(3)
            loss = sum((o.float() * torch.randn(o.shape, generator=gen)).sum() for o in outputs if o.requires_grad)
            loss.backward()
            grads = [leaf.grad for leaf in leaves if leaf.requires_grad]
    except Exception as error:     # noqa: BLE001  (eager's exception type is the expected result)
        return error
    return [o.detach() for o in outputs] + grads


def _as_accurate(got: torch.Tensor, want: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Where ember is at least as close to the float64 result as eager is (rounding in another order)."""
    tolerance = TOLERANCE[want.dtype]
    slack = tolerance["atol"] + tolerance["rtol"] * exact.abs()
    return (got.double() - exact).abs() <= (want.double() - exact).abs() + slack


def _compare(got, want, what: str, exact=None) -> None:
    """``exact``: for low-precision dtypes, the results in float64, against which an element that differs
    from eager's may show it is no less accurate (sums of rounded products, rounded in another order)."""
    if isinstance(want, Exception) or isinstance(got, Exception):
        assert isinstance(got, type(want)) and isinstance(want, Exception), f"{what}: eager {want!r}, ember {got!r}"
        return
    assert len(got) == len(want), f"{what}: {len(got)} results, eager {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        if w is None or g is None:
            assert g is None and w is None, f"{what}: result {k} is {g}, eager {w}"
            continue
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what}: result {k} {g.shape} {g.dtype}, eager {w.shape} {w.dtype}"
        assert g.layout == w.layout, f"{what}: result {k} is {g.layout}, eager {w.layout}"
        if w.is_sparse:                        # a sparse gradient: the same rows, coalesced in any order
            g, w = g.to_dense(), w.to_dense()
            exact = None if exact is None else [e.to_dense() if e.is_sparse else e for e in exact]
        if exact is not None and w.dtype == torch.bfloat16 and isinstance(exact, list):
            close = torch.isclose(g, w, equal_nan=True, **TOLERANCE[w.dtype]) | _as_accurate(g, w, exact[k])
            assert close.all(), f"{what}: result {k} differs from eager and is less accurate: {g} vs {w} (float64: {exact[k]})"
            continue
        torch.testing.assert_close(g, w, equal_nan=True, **TOLERANCE.get(w.dtype, {}),
                                   msg=lambda m: f"{what}: result {k}: {m}")


def check_samples(name: str, variant: str, dtype: torch.dtype, rest: str, *, backward: bool) -> tuple[int, int]:
    """(samples, samples that launched a region) of one OpInfo, every one compared with eager."""
    info = _INFOS[(name, variant)]
    differentiable = backward and info.supports_autograd and dtype.is_floating_point
    total = on_device = 0
    for sample in info.sample_inputs("cpu", dtype, requires_grad=False):
        tensors, call = _split(sample)

        def fn(*ts, call=call):
            return call(info.op, ts)
        want = _run(fn, tensors, differentiable)
        torch._dynamo.reset()
        before = len(current_session().launches.snapshot())
        got = _run(torch.compile(fn, backend="ember", options={"rest": rest}), tensors, differentiable)
        what = f"{name}.{variant} {dtype} {[tuple(t.shape) for t in tensors]} {sample.kwargs}"
        exact = None
        if dtype == torch.bfloat16:
            exact = _run(fn, [t.double() if t.is_floating_point() else t for t in tensors], differentiable)
        _compare(got, want, what, exact)
        total += 1
        on_device += len(current_session().launches.snapshot()) > before
    return total, on_device


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name,variant", OPS, ids=lambda v: v or "-")
def test_opinfo_samples_equal_eager(name, variant, dtype, capsys):
    torch_ember.reset()
    total, on_device = check_samples(name, variant, dtype, "eager", backward=True)
    with capsys.disabled():
        print(f"\n{name}{'.' + variant if variant else ''} {str(dtype).removeprefix('torch.')}: "
              f"{on_device} of {total} samples ran on the DAE device")
    assert total > 0


@pytest.mark.slow
@pytest.mark.parametrize("name,variant", OPS, ids=lambda v: v or "-")
def test_opinfo_samples_under_default_options(name, variant):
    """The same samples in float32 under the default options: what ember leaves on the host compiles with
    Inductor and gives eager's results."""
    check_samples(name, variant, torch.float32, "inductor", backward=True)
