"""An emulated decoupled access-execute (DAE) device: program format, functional executor, cost models.

Knows nothing of torch.compile: give it a program (text or object) and named tensors.
"""
from .config import PRESETS, DeviceConfig, preset
from .errors import DaeAddressError, DaeRangeError, DaeShapeError
from .program import Program
from .run import RunResult, empty_outputs, run
from .timing.intervals import IntervalSampling
from .text import DaeSyntaxError, format_program, parse_program
from .verify import DaeVerifyError, verify

__all__ = [
    "PRESETS", "DeviceConfig", "preset", "Program", "run", "RunResult", "IntervalSampling", "empty_outputs",
    "format_program", "parse_program", "verify", "DaeSyntaxError", "DaeVerifyError", "DaeAddressError", "DaeRangeError", "DaeShapeError",
]
