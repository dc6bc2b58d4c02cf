"""Passes over ATen FX graphs: canonicalize, match lookup regions, partition them into custom-op calls."""
