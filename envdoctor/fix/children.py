"""Run envdoctor itself as a child process and read its JSON envelope.

The child is the same envdoctor the user started: `python -m envdoctor` when installed, or the same
.pyz file when run from a zipapp next to go-webui.bat (`runtime\\python.exe envdoctor.pyz fix`).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence

# A child that prints more than this is not an envelope we can use; keeps memory bounded.
MAX_ENVELOPE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ChildResult:
    exit_code: int
    envelope: Optional[Dict[str, Any]]
    stderr: str = ""


class Children:
    """Starts envdoctor commands; `interactive` children share the terminal (their own progress bars)."""

    def __init__(self, lang: str, environ: Optional[Mapping[str, str]] = None,
                 command: Optional[Sequence[str]] = None) -> None:
        self.lang = lang
        # ENVDOCTOR_PARENT_PID: this fix is not a user of the runtime its `upgrade` child swaps (swap.py).
        # ENVDOCTOR_COMMAND_PREFIX: the children's hints name the command the user typed, not `python -m`.
        from envdoctor.process.invocation import ENV_PREFIX, current, self_command

        base = dict(os.environ if environ is None else environ)
        self.environ = dict(base, ENVDOCTOR_PARENT_PID=str(os.getpid()))
        self.environ.setdefault(ENV_PREFIX, current())
        self.command = list(command or self_command())

    def json(self, args: Sequence[str], timeout: Optional[float] = None) -> ChildResult:
        full = [*self.command, *args, "--json", "--lang", self.lang]
        # The envelope is read as UTF-8: without this, a child on Chinese Windows writes its pipe in the
        # ANSI code page (cp936) and every Chinese title in it arrives garbled.
        environ = dict(self.environ, PYTHONIOENCODING="utf-8")
        try:
            done = subprocess.run(full, env=environ, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return ChildResult(3, None, "timeout")
        envelope = None
        if len(done.stdout) <= MAX_ENVELOPE_BYTES:
            try:
                parsed = json.loads(done.stdout.decode("utf-8", errors="replace") or "null")
                envelope = parsed if isinstance(parsed, dict) else None
            except ValueError:
                envelope = None
        return ChildResult(done.returncode, envelope, done.stderr.decode("utf-8", errors="replace")[-4000:])

    def attached(self, args: Sequence[str]) -> int:
        """A child that talks to the user itself (progress, its own messages); only its exit code counts."""
        full = [*self.command, *args, "--lang", self.lang]
        return subprocess.run(full, env=self.environ, stdin=subprocess.DEVNULL).returncode
