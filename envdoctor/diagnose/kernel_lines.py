"""Evidence lines that list a binary's kernels ("SASS: sm_80 sm_90", "PTX: none"), as `model.Line`s so a
renderer says the label in the reader's language; the architecture names themselves are the same in any."""

from __future__ import annotations

from typing import Iterable

from envdoctor.model import Line


def sass_line(archs: Iterable[str], none: str = "none", embedded: bool = False) -> Line:
    """The SASS a binary carries (`none` when it carries none; "" keeps the label alone)."""
    return _kernels("SASS", archs, none, embedded)


def ptx_line(archs: Iterable[str], none: str = "none", embedded: bool = False) -> Line:
    """The PTX a binary carries (JIT-compiled by the driver for newer GPUs)."""
    return _kernels("PTX", archs, none, embedded)


def _kernels(kind: str, archs: Iterable[str], none: str, embedded: bool) -> Line:
    listed = " ".join(sorted(archs))
    label = f"embedded {kind}" if embedded else kind
    if not listed and none:
        return Line(f"{label}: {none}", f"line.{'embedded_' if embedded else ''}{kind.lower()}_none")
    return Line(f"{label}: {listed}", f"line.{'embedded_' if embedded else ''}{kind.lower()}", archs=listed)
