"""Command-line interface: one module per command; each `run()` returns an `envdoctor.result.CommandResult`.

Parses arguments and renders; the work is done by the packages below it.

May be imported by: the entry points only (envdoctor/__main__.py, the console script); nothing imports cli.
"""
