"""envdoctor: keeps GPU speech apps runnable on the GPUs people actually own."""

from typing import Optional

__version__ = "0.1.0"

# The envdoctor.pyz this process was started from, set by the pyz's bootstrap (which runs envdoctor
# from a copy unpacked into the cache); None for an installed envdoctor.
PYZ_ARCHIVE: Optional[str] = None
