"""Decoupling SLC into access and execute parts."""
from dae_emulator.program import DType, Event, OpKind

from torch_ember.conversion.fx_to_slc.build import dim, load_row, op, param
from torch_ember.conversion.slc_to_dlc import decouple
from torch_ember.ir.slc import LoopKind, SlcCallback, SlcLoop, SlcProgram


def test_a_stream_an_instruction_reads_twice_travels_through_one_queue():
    params = (param("x", DType.F32, dim("n"), dim("d")), param("out", DType.F32, dim("n"), dim("d"), output=True))
    body = (op(OpKind.MUL, "square", "row", "row"), op(OpKind.STORE, None, "i", "square", target="out"))
    loop = SlcLoop("i", LoopKind.DENSE, extent=dim("n"), streams=(load_row("row", "x", "i"),),
                   callbacks=(SlcCallback(Event.ITER, body),))
    dlc = decouple(SlcProgram("square", params, (), loop))
    assert [q.name for q in dlc.execute.queues] == ["q_i_iter_row", "q_i_iter_i"]    # the store's index too
    assert dlc.access.rules[0].pushes == (("q_i_iter_row", "row"), ("q_i_iter_i", "i"))
