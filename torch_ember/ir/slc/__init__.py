"""SLC: structured lookup-compute. Loops whose bounds may be streams, access streams, and callbacks that
hold the compute, placed at the start (``iter``) or the end of a loop's iterations."""
from .nodes import Arange, LoopKind, SlcCallback, SlcLoop, SlcProgram, SlcStream
from .printer import format_slc
from .verifier import SlcVerifyError, verify_slc

__all__ = ["Arange", "LoopKind", "SlcCallback", "SlcLoop", "SlcProgram", "SlcStream", "format_slc", "verify_slc",
           "SlcVerifyError"]
