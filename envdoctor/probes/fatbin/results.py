"""What a scan returns: the entries found in one library and the per-file result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from envdoctor.model import arch_order


@dataclass(frozen=True)
class FatbinEntry:
    kind: str  # "sass" | "ptx" | "lto" | "unknown"
    arch: str  # "sm_75", "sm_90a", "sm_100f"...; PTX uses the same names ("sm_120f")
    compression: str  # "none" | "lz4" | "zstd" | "unknown"
    offset: int  # file offset of the entry header
    flags: int = 0  # raw flag word, for diagnostics
    embedded: bool = False  # True: found by the search of the data sections, not registered


@dataclass(frozen=True)
class BinaryScan:
    path: str
    format: str  # "elf" | "pe" | "fatbin" (a bare .fatbin/.cubin container file) | "unknown"
    size: int
    mtime_ns: int
    sass: Dict[str, int] = field(default_factory=dict)
    ptx: Dict[str, int] = field(default_factory=dict)
    entries: int = 0  # every entry read, including LTO-IR and unknown kinds
    error: Optional[str] = None  # stable code; None when the whole file was read cleanly
    error_detail: Optional[str] = None
    other: Dict[str, int] = field(default_factory=dict)  # LTO-IR ("lto_90") and unknown kinds
    # Containers found in the data sections, outside the registered fat binary (see module doc).
    embedded_sass: Dict[str, int] = field(default_factory=dict)
    embedded_ptx: Dict[str, int] = field(default_factory=dict)
    embedded_other: Dict[str, int] = field(default_factory=dict)
    embedded_entries: int = 0
    embedded_containers: int = 0
    searched: bool = False  # whether the data sections were searched (False: registered only)

    @property
    def has_cuda(self) -> bool:
        return self.entries > 0 or self.embedded_entries > 0

    @property
    def all_sass(self) -> Dict[str, int]:
        """Registered and embedded SASS together: what the library can run."""
        return _merged(self.sass, self.embedded_sass)

    @property
    def all_ptx(self) -> Dict[str, int]:
        return _merged(self.ptx, self.embedded_ptx)

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


def _merged(first: Dict[str, int], second: Dict[str, int]) -> Dict[str, int]:
    out = dict(first)
    for name, count in second.items():
        out[name] = out.get(name, 0) + count
    return _sorted(out)

def _sorted(counts: Dict[str, int]) -> Dict[str, int]:
    return {name: counts[name] for name in sorted(counts, key=arch_order)}
