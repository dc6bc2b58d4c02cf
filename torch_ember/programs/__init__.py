"""The DAE programs of the lowered regions: compiled as the graph is lowered (``ahead``), kept in a cache
that rebuilds any of them from its key (``ProgramCache``), recompiled in pieces where a launch's rows are
too wide for the scratchpad (``pieces``), and replaced by a verified agent program where one models faster
(``agent``). The runtime asks for programs through its ``ProgramSource`` protocol and compiles nothing."""
from .cache import ProgramCache, compiled_program

__all__ = ["ProgramCache", "compiled_program"]
