"""CUDA binary compatibility, as pure functions (CUDA C++ Programming Guide, "Binary Compatibility").

- SASS for sm_XY runs on a GPU of compute capability X.Z with Z >= Y (same major only).
- "a" targets (sm_90a, sm_100a) run only on exactly that compute capability.
- "f" targets (sm_100f, sm_120f) run within their family: same major, minor >= theirs.
- PTX for compute_XY is JIT-compiled by the driver for any GPU with capability >= X.Y;
  "a"/"f" PTX follows the same restrictions as its SASS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from envdoctor.model import ComputeCapability

NATIVE = "native"
PTX_JIT = "ptx-jit"
NONE = "none"

_ARCH = re.compile(r"^(?:sm|compute|lto)_(\d+)([af]?)$")


@dataclass(frozen=True)
class Arch:
    major: int
    minor: int
    variant: str  # "" | "a" | "f"

    @property
    def cc(self) -> ComputeCapability:
        return (self.major, self.minor)

    @property
    def name(self) -> str:
        return f"sm_{self.major}{self.minor}{self.variant}"


def parse_arch(name: str) -> Optional[Arch]:
    """'sm_90a' / 'compute_120' / 'sm_86' -> Arch; anything else -> None (ignored by verdicts)."""
    match = _ARCH.match(name.strip().lower())
    if not match:
        return None
    digits = match.group(1)
    if len(digits) < 2:
        return None
    return Arch(int(digits[:-1]), int(digits[-1]), match.group(2))


def runs_natively(arch: Arch, cc: ComputeCapability) -> bool:
    if arch.variant == "a":
        return arch.cc == cc
    return arch.major == cc[0] and arch.minor <= cc[1]


def runs_as_ptx(arch: Arch, cc: ComputeCapability) -> bool:
    if arch.variant == "a":
        return arch.cc == cc
    if arch.variant == "f":
        return arch.major == cc[0] and arch.minor <= cc[1]
    return arch.cc <= cc


def verdict(cc: ComputeCapability, sass: Iterable[str], ptx: Iterable[str]) -> str:
    """native if any SASS runs on cc; ptx-jit if only PTX does; none otherwise."""
    if any(a is not None and runs_natively(a, cc) for a in map(parse_arch, sass)):
        return NATIVE
    if any(a is not None and runs_as_ptx(a, cc) for a in map(parse_arch, ptx)):
        return PTX_JIT
    return NONE


def split_arch_list(arch_list: Iterable[str]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """torch.cuda.get_arch_list() mixes SASS ('sm_86') and PTX ('compute_90') names."""
    sass: List[str] = []
    ptx: List[str] = []
    for name in arch_list:
        (ptx if name.startswith("compute_") else sass).append(name)
    return tuple(sass), tuple(ptx)


def best_native(cc: ComputeCapability, sass: Iterable[str]) -> Optional[str]:
    """The SASS arch the GPU would load (the highest compatible one), for evidence lines."""
    fitting = [a for a in map(parse_arch, sass) if a is not None and runs_natively(a, cc)]
    return max(fitting, key=lambda a: (a.cc, a.variant)).name if fitting else None


def combined(verdicts: Iterable[str]) -> str:
    """A set of binaries is only as good as its worst member (every library gets loaded)."""
    order = {NONE: 0, PTX_JIT: 1, NATIVE: 2}
    return min(verdicts, key=order.__getitem__, default=NATIVE)
