"""Runtime: the custom op each region becomes, argument adapters, program cache, launch and statistics."""
