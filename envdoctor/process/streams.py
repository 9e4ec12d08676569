"""How envdoctor's output reaches its reader, set up once before anything is printed (the replay of an
unchanged check included).

- JSON is UTF-8, always: a script reads it whatever the console's code page.
- On Windows, text written to a pipe or a file (`check > x.txt`, `check | more`, a launcher capturing
  it) keeps the ANSI code page where that code page spells Chinese (936 on a Chinese Windows, the other
  East Asian ones, 65001), so `type` and `more` show it; elsewhere (1252 on an English Windows) it is UTF-8:
  there every Chinese character became `?`, and an unencodable one raised UnicodeEncodeError, turning the
  verdict's exit code 2 into a crash's 1. A real console needs nothing: Python writes to it in UTF-16
  (WriteConsoleW).
- Nothing envdoctor writes can raise an encoding error: the last resort is a replacement character.
"""

from __future__ import annotations

import codecs
import os
import sys
from typing import Any, Dict, Sequence


def _is_windows_console(stream: Any) -> bool:
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    return type(raw).__name__ == "_WindowsConsoleIO"


# ANSI code pages that can spell every message envdoctor has (Chinese included), as codecs names them.
_WIDE_CODE_PAGES = {"gbk", "gb18030", "cp936", "cp950", "big5", "cp932", "shift_jis", "cp949", "euc_kr", "utf-8"}


def _spells_chinese(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in _WIDE_CODE_PAGES
    except LookupError:
        return False


def _settings(stream: Any, json_mode: bool, windows: bool) -> Dict[str, str]:
    envelope = json_mode and stream is sys.stdout
    narrow_pipe = windows and not _is_windows_console(stream) and not _spells_chinese(getattr(stream, "encoding", ""))
    return {"errors": "replace", "encoding": "utf-8"} if envelope or narrow_pipe else {"errors": "replace"}


def prepare(argv: Sequence[str] = ()) -> None:
    """Set stdout and stderr up for ARGV's output (`--json` anywhere in it: the envelope)."""
    json_mode = "--json" in argv
    windows = os.name == "nt"
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue  # not a text stream of io's (a test's capture, a recorder): left as it is
        try:
            stream.flush()
            reconfigure(**_settings(stream, json_mode, windows))
        except (ValueError, OSError):
            pass  # a closed or detached stream: nothing will be written to it anyway
