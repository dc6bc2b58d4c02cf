"""Ember's IR levels, one package each: SLC (structured lookup-compute), DLC (decoupled lookup-compute),
DAE (the machine-level program of ``dae_emulator``, with resources bound)."""
