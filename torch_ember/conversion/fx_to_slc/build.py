"""Small constructors that keep the per-op builders readable."""
from __future__ import annotations

from dae_emulator.program import AluOp, Dim, DType, Instr, OpKind, Param, StreamKind

from ...ir.slc import SlcStream
from ...region_spec import Epilogue


def dim(symbol: str | None, offset: int = 0) -> Dim:
    return Dim(symbol, offset)


def param(name: str, dtype: DType, *shape: Dim, output: bool = False, init: float = 0.0) -> Param:
    return Param(name, dtype, tuple(shape), output, init)


def load(name: str, tensor: str, index: str) -> SlcStream:
    return SlcStream(name, StreamKind.LOAD, tensor=tensor, index=index)


def load_row(name: str, tensor: str, index: str) -> SlcStream:
    return SlcStream(name, StreamKind.LOAD_ROW, tensor=tensor, index=index)


def alu(name: str, op: AluOp, *operands: str | int) -> SlcStream:
    return SlcStream(name, StreamKind.ALU, op=op, operands=operands)


def op(kind: OpKind, result: str | None, *args, target: str | None = None, dtype: DType | None = None) -> Instr:
    return Instr(kind, result, tuple(args), target, dtype)


def accumulate_dtype(dtype: DType) -> DType:
    """Reductions of half-precision rows accumulate in fp32, as PyTorch's CPU kernels do."""
    return DType.F64 if dtype is DType.F64 else DType.F32


def epilogue(spec, value: str) -> tuple[list[Instr], str]:
    """The instructions that apply the region's fused elementwise epilogue to ``value`` before it is stored
    (``relu``: max with 0; ``scale``: times a constant), and the name of the result."""
    instrs = []
    for k, (name, arg) in enumerate(spec.epilogue):
        result = f"{value}_{name.value}{k}"
        instrs.append(op(OpKind.MAX, result, value, 0.0) if name is Epilogue.RELU else op(OpKind.MUL, result, value, arg))
        value = result
    return instrs, value
