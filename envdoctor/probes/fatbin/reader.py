"""Bounded reading of a file: every read is checked against the file's size."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO


class _NotAFile(OSError):
    pass


class _ScanError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class _Reader:
    """Positioned reads that never go past the size the file had when it was opened."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self.handle = handle
        self.size = size
        self.reads = 0
        # One pread per header where the OS has it (POSIX); seek + read elsewhere (Windows).
        self._pread = getattr(os, "pread", None)
        self._fd = handle.fileno()

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise _ScanError(
                "truncated", f"{what}: {length} bytes at {offset:#x} run past the end ({self.size:#x})"
            )
        if self._pread is not None:
            data = self._pread(self._fd, length, offset)
        else:
            self.handle.seek(offset)
            data = self.handle.read(length)
        self.reads += 1
        if len(data) != length:
            raise _ScanError("truncated", f"{what}: file shrank while being read at {offset:#x}")
        return data


@dataclass(frozen=True)
class _Section:
    name: str
    kind: int  # ELF sh_type; 1 (PROGBITS) for PE sections holding raw data
    address: int  # virtual address (ELF sh_addr, PE image base + RVA)
    offset: int  # file offset
    size: int  # bytes present in the file
    data: bool = False  # initialised, loaded, not executable: searched for embedded containers
