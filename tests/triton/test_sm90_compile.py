"""The kernels the interpreter checks must also compile for the GPU the benchmark targets: the interpreter
accepts programs the compiler rejects (loop-carried type changes, unsupported atomics), so every kernel
variant is compiled down to an sm_90 cubin here, on the CPU."""
import os
import subprocess
import sys
from pathlib import Path


def test_every_kernel_compiles_for_h100():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    script = Path(__file__).with_name("sm90_compile.py")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
