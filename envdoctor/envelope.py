"""The one writer of the versioned JSON envelope that `--json` prints, and the schema registry.

Every command's envelope starts the same way: `schema` (`envdoctor.<command>`), `schema_version`,
`envdoctor_version`, `command`, `lang`, `exit_code`; then the command's data, or an `error` object
(`key`, `message`, `params`) when it could not do its job. Each (command, version) has a published
JSON Schema in `envdoctor/schemas/<command>.json`; the tests validate every command's output,
success and failure, against it. Bump a version when the shape of its data changes.

Stable for scripts: the head fields, `error.key`, and the command's own codes (verdict, finding
codes, status words). Texts (`message`, titles) are in the chosen language and may change wording.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from envdoctor import __version__
from envdoctor.i18n import message

if TYPE_CHECKING:
    from envdoctor.errors import EnvdoctorError
    from envdoctor.result import CommandResult

# command -> version of its envelope's shape
SCHEMA_VERSIONS: Dict[str, int] = {
    "check": 1,
    "doctor": 2,  # 2: `--list-tests` answers as envdoctor.doctor (was envdoctor.doctor-tests)
    "explain": 1,
    # 2: embedded fat binaries (embedded_*, registered_coverage); 3: the common head, errors are
    # envdoctor.scan, named files without CUDA code are listed ("cuda"), `notes` when no GPU to judge
    "scan": 3,
    "configure": 1,
    "upgrade": 1,
    "rollback": 1,  # was envdoctor.upgrade with command "rollback"
    "recover": 1,  # was envdoctor.upgrade with command "recover"
    "report": 1,  # was envdoctor.check with command "report" (summarize and --from read both)
    "summarize": 2,  # 2: the common head
    "matrix": 1,
    "fix": 1,
    # Not a command: the envelope of an error before any command was chosen (`envdoctor --json --bogus`).
    "error": 1,
}
# Commands whose envelope carries a verdict; their errors say "could-not-check" there too.
VERDICT_COMMANDS = ("check", "doctor", "report")
COULD_NOT_CHECK = "could-not-check"
HEAD = ("schema", "schema_version", "envdoctor_version", "command", "lang", "exit_code")
NO_COMMAND = "error"


def schema_name(command: str) -> str:
    return f"envdoctor.{command}"


def schema_path(command: str) -> str:
    """The JSON Schema file of a command's envelope (package data)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", f"{command}.json")


def head(command: str, lang: str, exit_code: int) -> Dict[str, Any]:
    known = command if command in SCHEMA_VERSIONS else NO_COMMAND
    return {"schema": schema_name(known), "schema_version": SCHEMA_VERSIONS[known],
            "envdoctor_version": __version__, "command": command if known != NO_COMMAND else "",
            "lang": lang, "exit_code": exit_code}


def write(command: str, lang: str, exit_code: int, data: Optional[Dict[str, Any]] = None,
          error: Optional[EnvdoctorError] = None) -> Dict[str, Any]:
    """The envelope: the head, then the data (which cannot override the head), then the error."""
    out = head(command, lang, exit_code)
    for key, value in (data or {}).items():
        if key not in out:
            out[key] = value
    if error is not None:
        if out["command"] in VERDICT_COMMANDS:
            out.setdefault("verdict", COULD_NOT_CHECK)
        out["error"] = error_data(error, lang)
    return out


def write_result(result: CommandResult, lang: str) -> Dict[str, Any]:
    lang = result.lang or lang
    data = None if result.error is not None and not result.data else result.body(lang)
    return write(result.command, lang, result.exit_code, data, result.error)


def error_data(error: EnvdoctorError, lang: str) -> Dict[str, Any]:
    from envdoctor.model import to_jsonable  # start-up: the model (dataclasses) only for an error's params

    return {"key": error.key, "message": message(lang, error.key, **error.params),
            "params": to_jsonable(error.params)}
