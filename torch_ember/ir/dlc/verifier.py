"""DLC verifier: the device's legality rules (matched pushes and pops, one consumer per queue, layers in
one chain, ...) on logical resources, without any device's resource limits."""
from __future__ import annotations

from dae_emulator.verify import verify

from .nodes import DlcProgram


def verify_dlc(p: DlcProgram) -> DlcProgram:
    verify(p.as_program())
    return p
