"""Command-line interface: one module per command, each returning an exit code."""
