"""The functional executor: a program's semantics evaluated on whole streams at once (tensor ops)."""
