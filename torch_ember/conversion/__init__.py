"""Passes between IR levels: region spec -> SLC, SLC -> DLC (decoupling), DLC -> DAE (resource binding)."""
