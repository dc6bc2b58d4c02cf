"""torch-ember: run a model's embedding work as programs for an emulated decoupled access-execute device.

``torch.compile(model, backend="ember")`` needs no import of this package (an entry point registers the
backend); import it for ``report()``, ``reset()``, the options and ``torch_ember.profiler``. Set
``TORCH_EMBER_LOG`` to debug, info or warning to see what the ``torch_ember`` logger says.
"""
import os

from . import logs, parity, profiler
from .autotune import HardwareBudget, autotune
from .dynamo_backend import ember_backend
from .explain import Explanation, explain
from .exported import ExportedRegions, compile_exported
from .options import EmberOptions
from .runtime.stats import Report
from .session import Session, current_session

logs.configure(os.environ.get("TORCH_EMBER_LOG"))


def report() -> Report:
    """Per region: launches, lookups, bytes; and the lookup ops left on the host, with their reasons (of the
    current session: the innermost ``with torch_ember.Session()``, else the process's)."""
    return current_session().stats.report()


def reset() -> None:
    """Forget everything the current session recorded: region statistics, launches, host ops, sharded exchanges
    (compiled programs stay cached)."""
    current_session().reset()


__all__ = ["autotune", "compile_exported", "ExportedRegions", "HardwareBudget", "ember_backend", "EmberOptions", "explain",
           "Explanation", "parity", "profiler", "report", "reset", "Report", "Session"]
