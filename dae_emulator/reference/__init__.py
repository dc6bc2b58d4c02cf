"""Cycle-level reference simulator of the DAE device: one class per hardware block, a literal clock.

Slow by design; it exists to validate the fast timing model (``dae_emulator.timing``) on small programs.
"""
from dae_emulator.reference.machine import Machine, simulate

__all__ = ["Machine", "simulate"]
