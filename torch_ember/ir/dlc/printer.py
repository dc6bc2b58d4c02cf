"""DLC as text: the access configuration, then the execute loop."""
from __future__ import annotations

from dae_emulator.text import format_program

from .nodes import DlcProgram


def format_dlc(p: DlcProgram) -> str:
    text = format_program(p.as_program())
    text = text.replace("program ", "dlc.program ", 1)
    return (text.replace("\naccess:\n", "\naccess configuration:\n")
                .replace("\nqueues:\n", "\nexecute loop:\n")
                .replace("\nexecute:\n", "\n"))
