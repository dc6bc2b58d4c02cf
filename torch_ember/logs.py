"""The ``torch_ember`` logger, set from the environment when the package is imported.

``TORCH_EMBER_LOG=debug`` prints every IR after every pass of every compiled region; ``info`` what stays on
the host and why, and each region compiled; ``warning`` only problems. An environment variable, as in
tinygrad and torch's ``TORCH_LOGS``, because the backend is often loaded by ``torch.compile`` through its
entry point, before user code could configure anything.
"""
from __future__ import annotations

import logging

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

log = logging.getLogger("torch_ember")
_handler = logging.StreamHandler()
_handler.setFormatter(logging.Formatter("[torch_ember %(levelname)s] %(message)s"))


def configure(value: str | None) -> None:
    """Set the logger's level from ``value`` (a ``TORCH_EMBER_LOG`` setting) and print to stderr; no value
    leaves logging to the application."""
    if not value:
        return
    level = LEVELS.get(value.strip().lower())
    if level is None:
        raise ValueError(f"TORCH_EMBER_LOG must be one of {', '.join(LEVELS)}; got {value!r}")
    log.setLevel(level)
    if _handler not in log.handlers:
        log.addHandler(_handler)
    log.propagate = False    # our handler prints it; the root logger's would print it again
