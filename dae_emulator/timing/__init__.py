"""The fast timing model of a DAE device, one module per hardware block, combined by ``model.estimate``."""
from dae_emulator.timing.model import estimate

__all__ = ["estimate"]
