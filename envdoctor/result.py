"""What every command's `run()` returns: one typed result that `cli/main.py` turns into an exit
code, and into either the JSON envelope (`envdoctor.envelope.write`) or the text view.

A command decides *what happened* (status, exit code, the data a script reads, the error); how it is
shown is the renderer's job. Kept free of imports: `check` builds one on its fast path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, Union

if TYPE_CHECKING:
    from envdoctor.errors import EnvdoctorError

# The envelope body, or a function of the language that builds it: the text view never pays for it.
Data = Union[Dict[str, Any], Callable[[str], Dict[str, Any]]]


@dataclass
class CommandResult:
    command: str
    status: str  # one word a script or a test can branch on: "will-fail", "preview", "restored", "error"...
    exit_code: int
    data: Data = field(default_factory=dict)
    error: Optional[EnvdoctorError] = None
    # The text view, given the command's Ui (cli.ui; not imported: results sit below the CLI).
    # None: the command printed as it went.
    render: Optional[Callable[[Any], None]] = None
    lang: Optional[str] = None  # the data's language where the data fixes it (a report read back from a file)
    # Files and folders the answer was read from; a `check` result is replayed while none changes.
    replay_deps: Optional[Callable[[], Optional[Iterable[str]]]] = None

    def body(self, lang: str) -> Dict[str, Any]:
        return self.data(lang) if callable(self.data) else self.data

    @classmethod
    def failed(cls, command: str, error: EnvdoctorError) -> CommandResult:
        return cls(command=command, status="error", exit_code=error.exit_code, error=error)
