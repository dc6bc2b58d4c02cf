"""Passes within one IR level: ``slc/`` (global optimizations) and ``dlc/`` (local ones per side)."""
