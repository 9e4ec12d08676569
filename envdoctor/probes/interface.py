"""The small interface every GPU/driver source implements, so fakes and real backends swap freely."""

from __future__ import annotations

from typing import Protocol

from envdoctor.model import GpuFacts


class SourceUnavailable(Exception):
    """This source cannot answer here (no library, no driver, no tool); the next one is tried."""


class GpuSource(Protocol):
    name: str

    def read(self) -> GpuFacts:
        """Return what this source knows, or raise SourceUnavailable."""
        ...
