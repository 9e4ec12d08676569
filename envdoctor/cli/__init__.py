"""Command-line interface: one module per command; each `run()` returns an `envdoctor.result.CommandResult`."""
