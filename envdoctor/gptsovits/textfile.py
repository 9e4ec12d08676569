"""Read a text file the way GPT-SoVITS users have it, and write it back the same way.

Bundles carry UTF-8 files, UTF-8 files with a BOM (PowerShell scripts saved by Windows editors),
UTF-16 files with a BOM (a script saved by Windows PowerShell's Out-File or Notepad's "Unicode") and
GBK `.bat` files (cmd reads batch files in the ANSI code page, 936 on Chinese Windows). Line endings are
CRLF or LF. An edit must keep all of that, so we decode once, edit text, and encode with what we found.
A BOM (UTF-8, UTF-16 or UTF-32) is read by envdoctor.fileio.textcodec, the one detector; without one, only
UTF-8 or (where allowed) GBK is edited: UTF-16 guessed from its NULs is for reading logs, not rewriting.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Optional, Tuple

from envdoctor.errors import EnvdoctorError
from envdoctor.fileio.safeio import UnsafePathError, read_capped
from envdoctor.fileio.textcodec import bom_encoding, bom_of

MAX_TEXT_BYTES = 16 * 1024 * 1024  # config.py, launchers, tts_infer.yaml are kilobytes
SIG = "-sig"  # an encoding read from its BOM ends so, and is written back with that BOM


class ConfigureError(EnvdoctorError):
    """configure could not do what was asked; nothing was written."""


@dataclass(frozen=True)
class TextFile:
    path: str
    raw: bytes
    text: str
    encoding: str  # "utf-8" | "gbk" | with a BOM: "utf-8-sig" | "utf-16-le-sig" | "utf-32-be-sig" ...
    newline: str  # "\r\n" | "\n"
    mode: Optional[int]  # permission bits, None for a file that does not exist yet

    @property
    def exists(self) -> bool:
        return self.mode is not None

    def encode(self, text: str) -> bytes:
        """Encode edited text like the original; raises UnicodeEncodeError when it cannot."""
        if self.encoding.endswith(SIG):
            codec = self.encoding[:-len(SIG)]
            return bom_of(codec) + text.encode(codec)
        return text.encode(self.encoding)

    @property
    def unicode_with_bom(self) -> bool:
        """Whether Windows PowerShell 5.1 reads it as Unicode (it reads a file without BOM as ANSI)."""
        return self.encoding.endswith(SIG)

    def can_encode(self, text: str) -> bool:
        try:
            self.encode(text)
        except UnicodeEncodeError:
            return False
        return True


def decode(raw: bytes, allow_gbk: bool) -> Tuple[str, str]:
    marked, length = bom_encoding(raw)
    if marked:
        codec = marked[:-len(SIG)] if marked.endswith(SIG) else marked
        return raw[length:].decode(codec), codec + SIG
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        if not allow_gbk:
            raise
    return raw.decode("gbk"), "gbk"


def dominant_newline(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def from_bytes(path: str, raw: Optional[bytes], mode: Optional[int], allow_gbk: bool = False,
               default_newline: str = "\n") -> TextFile:
    """The TextFile of RAW, the bytes of PATH (None: the file does not exist, and reads as empty)."""
    if raw is None:
        return TextFile(path, b"", "", "utf-8", default_newline, None)
    try:
        text, encoding = decode(raw, allow_gbk)
    except UnicodeDecodeError as exc:
        raise ConfigureError("configure.error.encoding", path=path, detail=str(exc)) from exc
    newline = dominant_newline(text) if "\n" in text else default_newline
    return TextFile(path, raw, text, encoding, newline, mode)


def read_text(path: str, allow_gbk: bool = False, default_newline: str = "\n") -> TextFile:
    """The file's text, encoding, newline style and mode; a missing file reads as empty (mode None)."""
    if not os.path.exists(path):
        return from_bytes(path, None, None, allow_gbk, default_newline)

    try:
        # Only a regular file: a FIFO would block, a device never ends, and either would be replaced
        # by the rename of the write.
        raw = read_capped(path, MAX_TEXT_BYTES)
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except UnsafePathError as exc:
        raise exc.as_error(ConfigureError) from exc
    except OSError as exc:
        raise ConfigureError("configure.error.unreadable", path=path, detail=str(exc)) from exc
    return from_bytes(path, raw, mode, allow_gbk, default_newline)


def is_read_only(path: str) -> bool:
    """True when the file (or, for a new file, its folder) must not be written.

    Checks the permission bits as well as os.access: root passes os.access for any file, yet a file the
    user marked read-only (or the Windows read-only attribute, which clears the write bits) is a choice
    to respect.
    """
    target = path if os.path.exists(path) else os.path.dirname(path) or "."
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return True
    return not (mode & stat.S_IWUSR) or not os.access(target, os.W_OK)
