"""Pure domain rules: no I/O, no web framework."""
