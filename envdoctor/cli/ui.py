"""Output plumbing shared by commands: the console, JSON printing, error display."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict

from envdoctor.errors import EnvdoctorError
from envdoctor.i18n import message


def _ensure_utf8_streams() -> None:
    """Chinese text on a Windows console with a legacy code page must not crash the print."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


# Control characters in text that came from outside (a file name, a log line, a bundle path): on a
# terminal they set the window title, clear the screen or hide text. Shown as \\xNN instead; newline and
# tab stay. Also C1 controls and the bidirectional overrides that reorder what is read.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """TEXT with every control character shown as an escape (\\x1b), never sent to the terminal, and a
    GBK file name (undecodable bytes on Linux) shown as its characters."""
    from envdoctor.fileio.textcodec import readable_name

    text = readable_name(text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                        f"\\u{ord(m.group()):04x}", text)


@dataclass
class Ui:
    lang: str = "en"
    json_mode: bool = False
    debug: bool = False

    def console(self, stderr: bool = False) -> Any:
        from rich.console import Console  # start-up: --json and a replayed check print without rich

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                # rich exits with 1 when the reader goes away (`envdoctor check | head -1`); the
                # command's own exit code (the verdict a launcher acts on) must still be returned.
                self.quiet = True
                os.dup2(os.open(os.devnull, os.O_WRONLY), (sys.stderr if stderr else sys.stdout).fileno())

            def _render_buffer(self, buffer: Any) -> str:
                # The one place every text reaches the terminal through rich: rich's own control
                # segments (cursor moves) pass, text segments lose their control characters.
                from rich.segment import Segment

                return super()._render_buffer(
                    seg if seg.control else Segment(printable(seg.text), seg.style, seg.control) for seg in buffer)

        _ensure_utf8_streams()
        return _Console(stderr=stderr, highlight=False, soft_wrap=False)

    def print_json(self, payload: Dict[str, Any]) -> None:
        from envdoctor.fileio.textcodec import readable  # a GBK file name as its characters, not "??"

        _ensure_utf8_streams()
        sys.stdout.write(json.dumps(readable(payload), ensure_ascii=False, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()

    def show_error(self, error: EnvdoctorError) -> None:
        """The text view of a failed command (its JSON view is the envelope's `error`)."""
        _ensure_utf8_streams()
        text = printable(message(self.lang, error.key, **error.params))  # params hold paths, file text
        prefix = message(self.lang, "error.prefix")
        colon = "：" if self.lang == "zh_CN" else ": "  # Chinese punctuation in a Chinese sentence
        sys.stderr.write(f"{prefix}{colon}{text}\n")
        if not self.debug:
            sys.stderr.write(message(self.lang, "error.hint_debug") + "\n")

    def text(self, key: str, **params: Any) -> str:
        return message(self.lang, key, **params)
