"""envdoctor: keeps GPU speech apps runnable on the GPUs people actually own."""

__version__ = "0.1.0"
