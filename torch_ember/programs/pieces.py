"""The one program decision that needs a launch's sizes: rows too wide to travel whole through the
scratchpad. The emulator finds it as it binds the sizes (``DaeScratchpadError``); the region is then
recompiled with rows pushed in the largest pieces that fit (the ``buffer_bytes`` knob, halved from the
scratchpad's size down to one vector)."""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from dae_emulator.config import DeviceConfig
from dae_emulator.errors import DaeShapeError
from dae_emulator.run import bind_sizes
from dae_emulator.scratchpad import DaeScratchpadError, usable_depth
from dae_emulator.verify import DaeVerifyError

from ..options import Knobs
from ..pipeline import Compiled


def fits_scratchpad(program, inputs: dict[str, torch.Tensor], sizes: dict[str, int] | None,
                    device: DeviceConfig) -> bool:
    """Whether one entry of each of the program's operand queues fits the device's scratchpad for these
    inputs (bad shapes are left for ``dae_emulator.run`` to report)."""
    try:
        bound = {**bind_sizes(program, inputs), **(sizes or {})}
        usable_depth(program, bound, device.queue_capacity, device.scratchpad_bytes)
    except DaeShapeError:
        return True
    except DaeScratchpadError:
        return False
    return True


def program_in_pieces(compile_with: Callable[[Knobs], Compiled], knobs: Knobs, inputs: dict[str, torch.Tensor],
                      sizes: dict[str, int] | None, device: DeviceConfig) -> Compiled | None:
    """The region compiled (``compile_with``) with the largest pieces that fit; None if not even one vector
    per queue fits."""
    piece = 1 << (device.scratchpad_bytes.bit_length() - 1)
    while piece >= device.vector_bytes:
        try:        # pieces of constant size are checked against the scratchpad as the program compiles
            compiled = compile_with(dataclasses.replace(knobs, buffer_bytes=piece))
        except DaeVerifyError:
            compiled = None
        if compiled is not None and fits_scratchpad(compiled.dae, inputs, sizes, device):
            return compiled
        piece //= 2
    return None
