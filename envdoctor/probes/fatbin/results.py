"""What a scan returns: the entries found in one library and the per-file result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from envdoctor.model import BinaryCoverageSummary, arch_order


@dataclass(frozen=True)
class FatbinEntry:
    kind: str  # "sass" | "ptx" | "lto" | "unknown"
    arch: str  # "sm_75", "sm_90a", "sm_100f"...; PTX uses the same names ("sm_120f")
    compression: str  # "none" | "lz4" | "zstd" | "unknown"
    offset: int  # file offset of the entry header
    flags: int = 0  # raw flag word, for diagnostics
    embedded: bool = False  # True: found by the search of the data sections, not registered


@dataclass(frozen=True)
class BinaryScan(BinaryCoverageSummary):
    """One file's scan: the facts a check keeps (model.BinaryCoverageSummary: path, registered and embedded
    SASS/PTX counts, error, searched; all_sass/all_ptx) and what only `scan` and the scan cache need.
    Build it with keywords: the inherited fields come first in positional order."""

    sass: Dict[str, int] = field(default_factory=dict)
    ptx: Dict[str, int] = field(default_factory=dict)
    # error: a stable code (format.py); None when the whole file was read cleanly.
    # embedded_sass/embedded_ptx: containers found in the data sections, outside the registered fat
    # binary (see module doc); searched: whether the data sections were searched (False: registered only).
    format: str = "unknown"  # "elf" | "pe" | "fatbin" (a bare .fatbin/.cubin container file) | "unknown"
    size: int = 0
    mtime_ns: int = 0
    entries: int = 0  # every entry read, including LTO-IR and unknown kinds
    error_detail: Optional[str] = None
    other: Dict[str, int] = field(default_factory=dict)  # LTO-IR ("lto_90") and unknown kinds
    embedded_other: Dict[str, int] = field(default_factory=dict)
    embedded_entries: int = 0
    embedded_containers: int = 0

    @property
    def has_cuda(self) -> bool:
        return self.entries > 0 or self.embedded_entries > 0

    def summary(self) -> BinaryCoverageSummary:
        """The part a check keeps in its facts (and its cache), copied."""
        return BinaryCoverageSummary(self.path, dict(self.sass), dict(self.ptx), self.error,
                                     dict(self.embedded_sass), dict(self.embedded_ptx), bool(self.searched))

    def to_dict(self) -> Dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sass": dict(self.sass),
            "ptx": dict(self.ptx),
            "other": dict(self.other),
            "entries": self.entries,
            "embedded_sass": dict(self.embedded_sass),
            "embedded_ptx": dict(self.embedded_ptx),
            "embedded_other": dict(self.embedded_other),
            "embedded_entries": self.embedded_entries,
            "embedded_containers": self.embedded_containers,
            "searched": self.searched,
            "error": self.error,
            "error_detail": self.error_detail,
        }

    @classmethod
    def from_dict(cls, data: Any) -> BinaryScan:
        """Inverse of to_dict; raises ValueError on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("scan record is not an object")

        def text(key: str, optional: bool = False) -> Optional[str]:
            value = data.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise ValueError(f"{key} is not a string")
            return value

        def integer(key: str, default: Optional[int] = None) -> int:
            value = data.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} is not a non-negative integer")
            return value

        def counts(key: str) -> Dict[str, int]:
            value = data.get(key, {})
            if not isinstance(value, dict):
                raise ValueError(f"{key} is not an object")
            out: Dict[str, int] = {}
            for name, count in value.items():
                if not isinstance(name, str) or not isinstance(count, int) or isinstance(count, bool):
                    raise ValueError(f"bad {key} entry")
                out[name] = count
            return out

        return cls(
            path=text("path") or "",
            format=text("format") or "unknown",
            size=integer("size"),
            mtime_ns=integer("mtime_ns"),
            sass=counts("sass"),
            ptx=counts("ptx"),
            entries=integer("entries"),
            error=text("error", optional=True),
            error_detail=text("error_detail", optional=True),
            other=counts("other"),
            embedded_sass=counts("embedded_sass"),
            embedded_ptx=counts("embedded_ptx"),
            embedded_other=counts("embedded_other"),
            embedded_entries=integer("embedded_entries", 0),
            embedded_containers=integer("embedded_containers", 0),
            searched=data.get("searched") is True,
        )


def _sorted(counts: Dict[str, int]) -> Dict[str, int]:
    return {name: counts[name] for name in sorted(counts, key=arch_order)}
