"""Every rejection of the SLC verifier, each shown by the smallest change to a valid program.

The starting program is a weighted sum embedding bag (a dense bag loop ``b`` with streams ``lo``, ``b_next``,
``hi``, a range row loop ``j`` with streams ``r``, ``w``, ``row``, an accumulator ``acc``); each test changes
one thing and matches the message of the one check it must trip, so a program that tripped an earlier check
instead would fail the test."""
from dataclasses import replace

import pytest
from dae_emulator.program import DType, Instr, OpKind, StreamKind
from torch_ember.conversion.fx_to_slc import region_to_slc
from torch_ember.ir.slc import Arange, LoopKind, SlcStream, SlcVerifyError, verify_slc
from torch_ember.region_spec import BagMode, RegionKind, RegionSpec

BAG = region_to_slc(RegionSpec(RegionKind.EMBEDDING_BAG, "t", BagMode.SUM, has_weights=True),
                    dict(table=DType.F32, indices=DType.I64, offsets=DType.I64, weights=DType.F32))
EMBEDDING = region_to_slc(RegionSpec(RegionKind.EMBEDDING, "t"), dict(table=DType.F32, indices=DType.I64))


def _outer(**changes):
    """BAG with its bag loop ``b`` changed."""
    return replace(BAG, loop=replace(BAG.loop, **changes))


def _inner(**changes):
    """BAG with its row loop ``j`` changed."""
    return _outer(inner=replace(BAG.loop.inner, **changes))


def _stream(loop, name, **changes):
    return tuple(replace(s, **changes) if s.name == name else s for s in loop.streams)


def _end_body(*body):
    """BAG with the bag loop's end callback (``%total = read acc; store out[%b] = %total; reset acc``) replaced."""
    return _outer(callbacks=(replace(BAG.loop.callbacks[0], body=body),))


def _end_appended(*instrs):
    return _end_body(*BAG.loop.callbacks[0].body, *instrs)


def _iter_body(*body):
    """BAG with the row loop's iter callback (``%weighted = mul %row, %w; update acc, %weighted``) replaced."""
    return _inner(callbacks=(replace(BAG.loop.inner.callbacks[0], body=body),))


def test_starting_programs_are_valid_and_returned_unchanged():
    """The verifier returns the very program it checked; a batched program's second nest is checked apart
    (its names do not clash with the first's), and a fact about a 1-D input is accepted."""
    assert [l.kind for l in BAG.loop.loops()] == [LoopKind.DENSE, LoopKind.RANGE]
    for p in (BAG, EMBEDDING, replace(BAG, more_nests=(BAG.loop,)), replace(BAG, known=(Arange("offsets", 0, 2),))):
        assert verify_slc(p) is p


def test_a_bad_second_nest_is_rejected():
    """``more_nests`` are verified too, each nest with only its own names visible."""
    with pytest.raises(SlcVerifyError, match="loop variable b is defined twice"):
        verify_slc(replace(BAG, more_nests=(replace(BAG.loop, inner=replace(BAG.loop.inner, var="b")),)))


@pytest.mark.parametrize("tensor", ["table", "out", "nope"], ids=["2-D", "output", "missing"])
def test_known_values_only_of_a_1d_input(tensor):
    """An ``Arange`` fact must name a 1-D input: not a 2-D table, an output or no parameter at all."""
    with pytest.raises(SlcVerifyError, match=f"known values of '{tensor}': it must be a 1-D input"):
        verify_slc(replace(BAG, known=(Arange(tensor, 0, 1),)))


@pytest.mark.parametrize("lo, hi", [("lo", "r"), ("nope", "hi")])
def test_range_bounds_must_be_streams_of_an_outer_loop(lo, hi):
    """A range loop's bounds come from the enclosing loop: not from its own streams, not from nowhere."""
    with pytest.raises(SlcVerifyError, match=f"loop j: bounds {lo}, {hi} must be streams of an outer loop"):
        verify_slc(_inner(lo=lo, hi=hi))


def test_outermost_loop_cannot_be_a_range():
    """Nothing encloses the outermost loop, so it has nothing a range could be bounded by."""
    with pytest.raises(SlcVerifyError, match="loop b: bounds lo, hi must be streams of an outer loop"):
        verify_slc(_outer(kind=LoopKind.RANGE, lo="lo", hi="hi"))


@pytest.mark.parametrize("var", ["b", "hi"])
def test_loop_variable_defined_twice(var):
    """The row loop's variable may not reuse the bag loop's variable or one of its streams."""
    with pytest.raises(SlcVerifyError, match=f"loop variable {var} is defined twice"):
        verify_slc(_inner(var=var))


@pytest.mark.parametrize("name", ["j", "lo", "r"], ids=["loop-variable", "outer-stream", "same-loop-stream"])
def test_stream_defined_twice(name):
    """A stream may not take the name of a loop variable or of an earlier stream, here or further out."""
    extra = SlcStream(name, StreamKind.LOAD, tensor="indices", index="j")
    with pytest.raises(SlcVerifyError, match=f"stream {name} is defined twice"):
        verify_slc(_inner(streams=BAG.loop.inner.streams + (extra,)))


@pytest.mark.parametrize("stream, tensor", [("r", "out"), ("row", "out"), ("r", "nope")])
def test_loads_read_inputs_only(stream, tensor):
    """Element and row loads read inputs: not an output, not an unknown tensor."""
    p = _inner(streams=_stream(BAG.loop.inner, stream, tensor=tensor))
    with pytest.raises(SlcVerifyError, match=f"stream {stream} loads '{tensor}', which is not an input"):
        verify_slc(p)


@pytest.mark.parametrize("stream, index", [("r", "w"), ("row", "nope")], ids=["later-stream", "unknown"])
def test_loads_are_indexed_by_visible_names(stream, index):
    """A load's index must be defined before it: ``w`` comes after ``r`` in the row loop."""
    p = _inner(streams=_stream(BAG.loop.inner, stream, index=index))
    with pytest.raises(SlcVerifyError, match=f"stream {stream} is indexed by '{index}', which is not visible"):
        verify_slc(p)


def test_alu_operands_must_be_visible():
    """``b_next = add(hi, 1)`` reads ``hi`` before it is defined; ``$`` size symbols are not names."""
    sized = _outer(streams=_stream(BAG.loop, "b_next", operands=("$num_rows", 1)))
    assert verify_slc(sized) is sized
    with pytest.raises(SlcVerifyError, match="stream b_next uses 'hi', which is not visible"):
        verify_slc(_outer(streams=_stream(BAG.loop, "b_next", operands=("hi", 1))))


@pytest.mark.parametrize("when", ["r", "nope"], ids=["inner-stream", "unknown"])
def test_callback_predicate_must_be_visible(when):
    """The bag loop's end callback cannot be predicated on the row loop's streams."""
    p = _outer(callbacks=(replace(BAG.loop.callbacks[0], when=when),))
    with pytest.raises(SlcVerifyError, match=f"callback on b.end: predicate '{when}' is not visible"):
        verify_slc(p)


@pytest.mark.parametrize("body, name", [
    (BAG.loop.callbacks[0].body[1:2] + BAG.loop.callbacks[0].body[:1], "total"),   # stored before it is read
    ((Instr(OpKind.STORE, None, ("b", "weighted"), "out"),), "weighted"),          # another callback's value
    ((Instr(OpKind.STORE, None, ("b", "row"), "out"),), "row"),                    # the row loop's stream
], ids=["later-value", "other-callback", "inner-stream"])
def test_callback_arguments_must_be_visible(body, name):
    """A callback reads visible streams and values defined earlier in its own body, nothing else."""
    with pytest.raises(SlcVerifyError, match=f"callback on b.end: '{name}' is not visible"):
        verify_slc(_end_body(*body))


@pytest.mark.parametrize("instr", [
    Instr(OpKind.UPDATE, None, ("total",), "nope"), Instr(OpKind.READ, "x", (), "nope"),
    Instr(OpKind.READ_ARG, "x", (), "nope"), Instr(OpKind.RESET, None, (), "out"),
], ids=lambda i: i.op.value)
def test_accumulator_instructions_name_an_accumulator(instr):
    """update, read, read_arg and reset target a declared accumulator (an output is not one)."""
    with pytest.raises(SlcVerifyError, match=f"unknown accumulator '{instr.target}'"):
        verify_slc(_end_appended(instr))


@pytest.mark.parametrize("kind, target", [(OpKind.STORE, "table"), (OpKind.STORE_ADD, "acc"), (OpKind.STORE_MAX, "nope")],
                         ids=["input", "accumulator", "unknown"])
def test_stores_write_outputs_only(kind, target):
    """Every store kind writes an output: not an input, an accumulator or an unknown tensor."""
    with pytest.raises(SlcVerifyError, match=f"store to '{target}', which is not an output"):
        verify_slc(_end_appended(Instr(kind, None, ("b", "total"), target)))


@pytest.mark.parametrize("p, name", [
    (_end_appended(Instr(OpKind.READ, "total", (), "acc")), "total"),              # an earlier value
    (_end_appended(Instr(OpKind.READ, "hi", (), "acc")), "hi"),                    # a stream
    (_iter_body(Instr(OpKind.MUL, "b", ("row", "w")), Instr(OpKind.UPDATE, None, ("b",), "acc")), "b"),
], ids=["value", "stream", "loop-variable"])
def test_values_do_not_shadow(p, name):
    """A callback's result may not reuse the name of a visible stream or of an earlier value."""
    with pytest.raises(SlcVerifyError, match=f"value {name} shadows a stream or an earlier value"):
        verify_slc(p)
