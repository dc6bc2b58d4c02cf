"""torch-ember: run a model's embedding work as programs for an emulated decoupled access-execute device.

``torch.compile(model, backend="ember")`` needs no import of this package (an entry point registers the
backend); import it for ``report()``, ``reset()`` and the options.
"""
from .dynamo_backend import ember_backend
from .explain import Explanation, explain
from .options import EmberOptions
from .runtime.stats import STATS, Report


def report() -> Report:
    """Per region: launches, lookups, bytes; and the lookup ops left on the host, with their reasons."""
    return STATS.report()


def reset() -> None:
    """Forget every recorded launch (compiled programs stay cached)."""
    STATS.reset()


__all__ = ["ember_backend", "EmberOptions", "explain", "Explanation", "report", "reset", "Report"]
