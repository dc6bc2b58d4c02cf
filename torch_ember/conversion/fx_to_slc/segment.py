"""``aten.segment_reduce`` along dimension 0 as SLC: a dense loop over segments, a range loop over each
segment's rows, which are read in order by the induction variable itself (no index stream: a sequential
row load). Empty segments give the reduction's identity, as PyTorch does without ``initial``: 0 for sum,
1 for prod, -inf for max, +inf for min, and 0/0 = nan for mean. With ``initial``, every segment's
reduction starts from it (a mean divides initial plus sum by the length, and an empty one is the initial),
and a prod's gradient multiplies it into the product of the other elements. A fused epilogue (ReLU, scaling) applies
as each segment's result is stored: a segment is complete at its END event, unlike a scatter's rows.

The backward of a sum or mean: every row of a segment receives the segment's gradient row (over the
segment's length for mean), stored once per row, walked segment by segment like the forward.

The backward of a max or min, as PyTorch's kernel computes it, takes two programs. An element is a *tie*
where it is NaN or equals its segment's result (a NaN result is equal to nothing); the first program
counts the ties of each segment and column (``build_segment_ties``), and the second gives each tie the
segment's gradient, divided by the count where there are two ties or more and the gradient is positive
(PyTorch divides only positive gradients), and every other element 0. The device compares with ``gt``
alone: x is NaN where neither x > -inf nor inf > x, and equal where neither is greater.

The backward of a prod takes two programs too: the first (``build_segment_products``) multiplies each
segment's elements that are neither NaN nor zero and counts its zeros, NaNs and infinities, from which the
second tells each NaN or zero element the product of the others (``_product_backward``)."""
from __future__ import annotations

from dae_emulator.program import Accumulator, AluOp, DType, Event, OpKind, ReduceKind

from ...ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram
from ...region_spec import Reduction, RegionSpec
from .build import accumulate_dtype, alu, dim, epilogue, load, load_row, op, param



def _bounds() -> list:
    """Segment ``s``'s rows are ``[lo, hi)``: two consecutive offsets."""
    return [load("lo", "offsets", "s"), alu("s_next", AluOp.ADD, "s", 1), load("hi", "offsets", "s_next")]


def build_segment_reduce(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    value_t = dtypes["data"]
    segments, width = dim("num_offsets", -1), dim("dim")
    params = (param("data", value_t, dim("num_rows"), width),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("out", value_t, segments, width, output=True))
    start = spec.reduce.identity if spec.initial is None else spec.initial
    accs = [Accumulator("acc", spec.reduce.accumulator, accumulate_dtype(value_t), width, start)]
    row_body = [op(OpKind.UPDATE, None, "row", target="acc")]
    end_body = [op(OpKind.READ, "total", target="acc")]
    result = "total"
    if spec.reduce is Reduction.MEAN:
        accs.append(Accumulator("count", ReduceKind.SUM, DType.F32))
        row_body.append(op(OpKind.UPDATE, None, 1.0, target="count"))
        end_body.append(op(OpKind.READ, "n", target="count"))
        if spec.initial is not None:    # (initial + sum) / n, and an empty segment's mean is the initial
            end_body += [op(OpKind.MAX, "divisor", "n", 1.0), op(OpKind.DIV, "mean", "total", "divisor")]
        else:
            end_body.append(op(OpKind.DIV, "mean", "total", "n"))
        result = "mean"
    fused, result = epilogue(spec, result)
    end_body += fused
    end_body.append(op(OpKind.STORE, None, "s", result, target="out"))
    end_body += [op(OpKind.RESET, None, target=a.name) for a in accs]
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=(load_row("row", "data", "j"),),
                   callbacks=(SlcCallback(Event.ITER, tuple(row_body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=segments, streams=tuple(_bounds()),
                   callbacks=(SlcCallback(Event.END, tuple(end_body)),), inner=rows)
    return SlcProgram(spec.name, params, tuple(accs), loop)


def _is_number(x: str) -> list:
    """``{x}_is_number``: 1.0 where ``x`` is not NaN (above -inf or below inf); ``{x}_above``, ``{x}_below``."""
    return [op(OpKind.GT, f"{x}_above", x, float("-inf")), op(OpKind.GT, f"{x}_below", float("inf"), x),
            op(OpKind.SELECT, f"{x}_below_f", f"{x}_below", 1.0, 0.0),
            op(OpKind.SELECT, f"{x}_is_number", f"{x}_above", 1.0, f"{x}_below_f")]


def _differs(a: str | float, b: str | float, name: str) -> list:
    """``name``: 1.0 where ``a > b`` or ``b > a`` (so never where either is NaN), else 0.0."""
    return [op(OpKind.GT, f"{name}_above", a, b), op(OpKind.GT, f"{name}_below", b, a),
            op(OpKind.SELECT, f"{name}_below_f", f"{name}_below", 1.0, 0.0),
            op(OpKind.SELECT, name, f"{name}_above", 1.0, f"{name}_below_f")]


def _classify(x: str) -> list:
    """1.0/0.0 rows: ``{x}_is_nan``, ``{x}_is_zero``, ``{x}_is_inf``, and ``{x}_special`` (NaN or zero, the
    elements whose exclusive product PyTorch multiplies out)."""
    return _is_number(x) + [
        op(OpKind.SELECT, f"{x}_is_nan", f"{x}_is_number", 0.0, 1.0),
        op(OpKind.SELECT, f"{x}_finite", f"{x}_above", f"{x}_below_f", 0.0),
        op(OpKind.SUB, f"{x}_is_inf", f"{x}_is_number", f"{x}_finite"),
        *_differs(x, 0.0, f"{x}_nonzero"),
        op(OpKind.SELECT, f"{x}_is_zero", f"{x}_nonzero", 0.0, f"{x}_is_number"),
        op(OpKind.ADD, f"{x}_special", f"{x}_is_nan", f"{x}_is_zero"),
    ]


def _is_tie(value: str, result: str) -> list:
    """Instructions leaving ``tie`` 1.0 where the row ``value`` is NaN or equals ``result``, else 0.0."""
    return _is_number(value) + _is_number(result) + _differs(value, result, "differs") + [
        op(OpKind.SELECT, "equal", "differs", 0.0, f"{result}_is_number"),
        op(OpKind.SELECT, "tie", f"{value}_is_number", "equal", 1.0),
    ]


def build_segment_ties(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """Per segment and column, how many of its elements tie with its max or min (``ties``, f32)."""
    segments, width = dim("num_offsets", -1), dim("dim")
    params = (param("data", dtypes["data"], dim("num_rows"), width),
              param("output", dtypes["output"], segments, width),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("ties", DType.F32, segments, width, output=True))
    row_body = _is_tie("value", "result") + [op(OpKind.UPDATE, None, "tie", target="count")]
    end_body = [op(OpKind.READ, "n", target="count"), op(OpKind.STORE, None, "s", "n", target="ties"),
                op(OpKind.RESET, None, target="count")]
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=(load_row("value", "data", "j"),),
                   callbacks=(SlcCallback(Event.ITER, tuple(row_body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=segments, streams=tuple(_bounds() + [load_row("result", "output", "s")]),
                   callbacks=(SlcCallback(Event.END, tuple(end_body)),), inner=rows)
    return SlcProgram(spec.name, params, (Accumulator("count", ReduceKind.SUM, DType.F32, width),), loop)


def _extreme_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    grad_t, width, segments = dtypes["grad"], dim("dim"), dim("num_offsets", -1)
    params = (param("grad", grad_t, segments, width),
              param("data", dtypes["data"], dim("num_rows"), width),
              param("output", dtypes["output"], segments, width),
              param("ties", DType.F32, segments, width),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("grad_data", grad_t, dim("num_rows"), width, output=True))
    body = _is_tie("value", "result") + [
        op(OpKind.GT, "shared", "n", 1.5), op(OpKind.GT, "positive", "g", 0.0), op(OpKind.DIV, "share", "g", "n"),
        op(OpKind.SELECT, "divided", "positive", "share", "g"), op(OpKind.SELECT, "each", "shared", "divided", "g"),
        op(OpKind.SELECT, "given", "tie", "each", 0.0), op(OpKind.STORE, None, "j", "given", target="grad_data"),
    ]
    segment_streams = _bounds() + [load_row("g", "grad", "s"), load_row("result", "output", "s"),
                                   load_row("n", "ties", "s")]
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=(load_row("value", "data", "j"),),
                   callbacks=(SlcCallback(Event.ITER, tuple(body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=segments, streams=tuple(segment_streams), inner=rows)
    return SlcProgram(spec.name, params, (), loop)


def build_segment_reduce_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    if spec.reduce in (Reduction.MAX, Reduction.MIN):
        return _extreme_backward(spec, dtypes)
    if spec.reduce is Reduction.PROD:
        return _product_backward(spec, dtypes)
    grad_t, width = dtypes["grad"], dim("dim")
    params = (param("grad", grad_t, dim("num_offsets", -1), width),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("grad_data", grad_t, dim("num_rows"), width, output=True))
    body, value = [], "g"
    segment_streams = _bounds() + [load_row("g", "grad", "s")]
    if spec.reduce is Reduction.MEAN:
        segment_streams.append(alu("length", AluOp.SUB, "hi", "lo"))
        body += [op(OpKind.CAST, "length_f", "length", dtype=DType.F32), op(OpKind.DIV, "share", "g", "length_f")]
        value = "share"
    body.append(op(OpKind.STORE, None, "j", value, target="grad_data"))
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", callbacks=(SlcCallback(Event.ITER, tuple(body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=dim("num_offsets", -1), streams=tuple(segment_streams), inner=rows)
    return SlcProgram(spec.name, params, (), loop)


_PRODUCT_STATS = ("products", "zeros", "nans", "infs")


def build_segment_products(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """Per segment and column: the product of its elements that are neither NaN nor zero, in order
    (``products``), and how many are zero, NaN and infinite (f32 counts)."""
    value_t, segments, width = dtypes["data"], dim("num_offsets", -1), dim("dim")
    product_t = accumulate_dtype(value_t)
    params = (param("data", value_t, dim("num_rows"), width),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("products", product_t, segments, width, output=True),
              *(param(name, DType.F32, segments, width, output=True) for name in _PRODUCT_STATS[1:]))
    accs = (Accumulator("product", ReduceKind.PROD, product_t, width, 1.0),
            *(Accumulator(f"{name}_acc", ReduceKind.SUM, DType.F32, width) for name in _PRODUCT_STATS[1:]))
    row_body = _classify("value") + [
        op(OpKind.SELECT, "kept", "value_special", 1.0, "value"), op(OpKind.UPDATE, None, "kept", target="product"),
        op(OpKind.UPDATE, None, "value_is_zero", target="zeros_acc"),
        op(OpKind.UPDATE, None, "value_is_nan", target="nans_acc"),
        op(OpKind.UPDATE, None, "value_is_inf", target="infs_acc")]
    end_body = []
    for name, acc in zip(_PRODUCT_STATS, accs):
        end_body += [op(OpKind.READ, f"{name}_s", target=acc.name), op(OpKind.STORE, None, "s", f"{name}_s", target=name),
                     op(OpKind.RESET, None, target=acc.name)]
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=(load_row("value", "data", "j"),),
                   callbacks=(SlcCallback(Event.ITER, tuple(row_body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=segments, streams=tuple(_bounds()),
                   callbacks=(SlcCallback(Event.END, tuple(end_body)),), inner=rows)
    return SlcProgram(spec.name, params, accs, loop)


def _product_backward(spec: RegionSpec, dtypes: dict[str, DType]) -> SlcProgram:
    """A NaN or zero element gets the gradient times the product of the segment's other elements: the
    product of the rest where they hold no NaN or zero, NaN where they hold a NaN, or hold a zero and an
    infinity, else 0 (the one case this cannot tell, an overflowed product beside a zero, the launch
    finishes on the host: ``SegmentReduceBackwardAdapter.finish``); every other element the gradient
    times the result over the element, as PyTorch's kernel computes them."""
    grad_t, width, segments = dtypes["grad"], dim("dim"), dim("num_offsets", -1)
    params = (param("grad", grad_t, segments, width),
              param("data", dtypes["data"], dim("num_rows"), width),
              param("output", dtypes["output"], segments, width),
              param("products", dtypes["products"], segments, width),
              *(param(name, DType.F32, segments, width) for name in _PRODUCT_STATS[1:]),
              param("offsets", dtypes["offsets"], dim("num_offsets")),
              param("grad_data", grad_t, dim("num_rows"), width, output=True))
    body = _classify("value") + [
        op(OpKind.SUB, "other_nans", "n_nans", "value_is_nan"), op(OpKind.SUB, "other_zeros", "n_zeros", "value_is_zero"),
        op(OpKind.GT, "with_nan", "other_nans", 0.5), op(OpKind.GT, "with_zero", "other_zeros", 0.5),
        op(OpKind.GT, "with_inf", "n_infs", 0.5),
        op(OpKind.SUB, "g_zero", "g", "g"), op(OpKind.DIV, "nan", "g_zero", "g_zero"),     # 0/0 (NaN/NaN): NaN
        op(OpKind.SELECT, "zeroed", "with_inf", "nan", 0.0),
        op(OpKind.SELECT, "rest", "with_zero", "zeroed", "n_products"),
        *([op(OpKind.MUL, "rest_initial", "rest", spec.initial)] if spec.initial is not None else []),
        op(OpKind.SELECT, "exclusive", "with_nan", "nan", "rest" if spec.initial is None else "rest_initial"),
        op(OpKind.MUL, "through_special", "g", "exclusive"),
        op(OpKind.MUL, "g_result", "g", "result"), op(OpKind.DIV, "through_value", "g_result", "value"),
        op(OpKind.SELECT, "given", "value_special", "through_special", "through_value"),
        op(OpKind.STORE, None, "j", "given", target="grad_data"),
    ]
    segment_streams = _bounds() + [load_row("g", "grad", "s"), load_row("result", "output", "s"),
                                   *(load_row(f"n_{name}", name, "s") for name in _PRODUCT_STATS)]
    rows = SlcLoop("j", LoopKind.RANGE, lo="lo", hi="hi", streams=(load_row("value", "data", "j"),),
                   callbacks=(SlcCallback(Event.ITER, tuple(body)),))
    loop = SlcLoop("s", LoopKind.DENSE, extent=segments, streams=tuple(segment_streams), inner=rows)
    return SlcProgram(spec.name, params, (), loop)
