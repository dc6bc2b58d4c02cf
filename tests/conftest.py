"""Triton kernels run on the CPU here through Triton's interpreter; it must be chosen before triton loads."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")
