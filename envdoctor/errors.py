"""Exception types, one per layer. Each carries a message key for the catalogues, never prose."""

from __future__ import annotations

from typing import Any


class EnvdoctorError(Exception):
    """An error the user can act on. `key` names a message in envdoctor.i18n; exit code 3."""

    exit_code = 3

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(f"{key} {params}")
        self.key = key
        self.params = params


class UsageError(EnvdoctorError):
    """Bad arguments or a path that is not what the command needs."""


class ProbeError(EnvdoctorError):
    """A probe could not read what it must (unreadable runtime, not a Python)."""


class MatrixError(EnvdoctorError):
    """A matrix file is missing, malformed or does not follow the schema."""
