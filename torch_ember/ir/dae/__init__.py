"""DAE: the machine-level program, ``dae_emulator.Program``, with resources bound to a device's traversal
units and queues. Its nodes, printer, parser and verifier are the emulator's own; this package names them
as the compiler's last IR level."""
from dae_emulator.program import Program as DaeProgram
from dae_emulator.text import format_program as format_dae
from dae_emulator.text import parse_program as parse_dae
from dae_emulator.verify import verify as verify_dae

__all__ = ["DaeProgram", "format_dae", "parse_dae", "verify_dae"]
