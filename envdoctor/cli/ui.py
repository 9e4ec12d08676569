"""Output plumbing shared by commands: the console, JSON printing, error display."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, Optional

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

        _ensure_utf8_streams()
        return _Console(stderr=stderr, highlight=False, soft_wrap=False)

    def print_json(self, payload: Dict[str, Any]) -> None:
        _ensure_utf8_streams()
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()

    def show_error(self, error: EnvdoctorError) -> None:
        """The text view of a failed command (its JSON view is the envelope's `error`)."""
        _ensure_utf8_streams()
        text = message(self.lang, error.key, **error.params)
        prefix = message(self.lang, "error.prefix")
        colon = "：" if self.lang == "zh_CN" else ": "  # Chinese punctuation in a Chinese sentence
        sys.stderr.write(f"{prefix}{colon}{text}\n")
        if not self.debug:
            sys.stderr.write(message(self.lang, "error.hint_debug") + "\n")

    def text(self, key: str, **params: Any) -> str:
        return message(self.lang, key, **params)


def optional_int(value: Optional[str]) -> Optional[int]:
    return None if value is None else int(value)
