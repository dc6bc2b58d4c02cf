"""Compile every Triton kernel for an H100 (sm_90) without a GPU: Triton's front end, its optimizer, LLVM
and the bundled ptxas all run on the CPU. Run as a script (``test_sm90_compile`` does, in a process
without ``TRITON_INTERPRET``, since interpreted kernels cannot be compiled)."""
import sys

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from torch_ember.triton import elements, embedding_bag, embedding_bag_backward, rows, segment

TARGET = GPUTarget("cuda", 90, 32)


def compile_for_h100(kernel, pointers: dict[str, str], **constexprs) -> None:
    """Scalars not named are i32; ``pointers`` gives each pointer's element type (``*fp16``, ``*i64``...)."""
    signature = {name: "constexpr" if name in constexprs else pointers.get(name, "i32") for name in kernel.arg_names}
    compiled = triton.compile(ASTSource(fn=kernel, signature=signature, constexprs=constexprs), target=TARGET)
    assert compiled.asm["cubin"], kernel.fn.__name__


def main() -> int:
    bag = dict(table="*fp16", indices="*i64", offsets="*i32", weights="*fp16", out="*fp16", bag_size="*i64",
               max_indices="*i64")
    for mode, weighted in ((0, True), (1, False), (2, False)):
        compile_for_h100(embedding_bag._bag_kernel, bag, MODE=mode, HAS_WEIGHTS=weighted, ACC=tl.float32, BLOCK_N=32,
                         BLOCK_D=128)
    compile_for_h100(embedding_bag._bags_kernel, dict(meta="*i64", like_table="*fp32", like_indices="*i64",
                                                      like_offsets="*i64", like_size="*i64"),
                     ACC=tl.float32, BLOCK_N=32, BLOCK_D=128)
    back = dict(grad="*bf16", indices="*i64", offsets="*i64", weights="*bf16", bag_size="*i64", grad_weight="*fp32",
                max_indices="*i64", table="*bf16", grad_weights="*bf16")
    compile_for_h100(embedding_bag_backward._sum_backward_kernel, back, HAS_WEIGHTS=True, MEAN=False, ACC=tl.float32,
                     BLOCK_N=32, BLOCK_D=64)
    compile_for_h100(embedding_bag_backward._sum_backward_kernel, back, HAS_WEIGHTS=False, MEAN=True, ACC=tl.float32,
                     BLOCK_N=32, BLOCK_D=64)
    compile_for_h100(embedding_bag_backward._max_backward_kernel, back, BLOCK=1024)
    compile_for_h100(embedding_bag_backward._weights_backward_kernel, back, ACC=tl.float32, BLOCK_N=32, BLOCK_D=64)
    compile_for_h100(rows._gather_rows_kernel, dict(table="*fp32", indices="*i64", out="*fp32"), BLOCK_N=32,
                     BLOCK_D=128)
    scatter = dict(values="*fp16", gather="*i64", target="*i64", weights="*fp16", out="*fp32", count="*fp32")
    for reduce in (0, 1, 2):
        compile_for_h100(rows._scatter_rows_kernel, scatter, GATHER=True, HAS_WEIGHTS=True, REDUCE=reduce, COUNT=True,
                         ACC=tl.float32, BLOCK_N=32, BLOCK_D=128)
    seg = dict(values="*fp32", rows="*i64", offsets="*i64", weights="*fp32", out="*fp32")
    for reduce, ident in ((1, 0.0), (3, float("inf")), (4, 1.0)):
        compile_for_h100(segment._segment_kernel, seg, GATHER=reduce == 4, HAS_WEIGHTS=reduce == 4, REDUCE=reduce,
                         IDENT=ident, ACC=tl.float32, BLOCK_N=16, BLOCK_D=64)
    elem = dict(data="*fp32", index="*i64", out="*fp32", at="*i64", src="*fp32", count="*fp32")
    compile_for_h100(elements._gather_kernel, elem, BLOCK=1024)
    compile_for_h100(elements._address_kernel, elem, BLOCK=1024)
    for reduce in (0, 1):
        compile_for_h100(elements._scatter_kernel, elem, REDUCE=reduce, COUNT=reduce == 0, BLOCK=1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
