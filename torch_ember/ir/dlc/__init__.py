"""DLC: decoupled lookup-compute. The same work split into an access configuration (traversal units,
streams, which heads and tokens are pushed on which event) and an execute loop (callbacks that pop)."""
from .nodes import AccessConfig, DlcProgram, ExecuteLoop
from .printer import format_dlc
from .verifier import verify_dlc

__all__ = ["AccessConfig", "DlcProgram", "ExecuteLoop", "format_dlc", "verify_dlc"]
