"""Version comparisons for driver and CUDA versions ('576.02' < '580.65.06')."""

from __future__ import annotations

from typing import Optional, Tuple


def as_tuple(version: Optional[str]) -> Tuple[int, ...]:
    parts = []
    for piece in (version or "").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def at_least(version: Optional[str], minimum: str) -> bool:
    return as_tuple(version) >= as_tuple(minimum)


def major_minor(version: Optional[str]) -> str:
    return ".".join(str(p) for p in as_tuple(version)[:2])
