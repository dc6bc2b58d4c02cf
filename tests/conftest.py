"""Triton kernels run on the CPU here through Triton's interpreter; it must be chosen before triton loads
(except with ``EMBER_TRITON_DEVICE=cuda``, where tests/triton runs them on the GPU)."""
import os

if os.environ.get("EMBER_TRITON_DEVICE") != "cuda":
    os.environ.setdefault("TRITON_INTERPRET", "1")
