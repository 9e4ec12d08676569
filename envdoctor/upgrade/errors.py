"""Errors of the upgrade steps; each names a message in envdoctor/i18n/*/upgrade.py."""

from __future__ import annotations

from envdoctor.errors import EnvdoctorError


class UpgradeError(EnvdoctorError):
    """An upgrade, rollback or recovery step that could not be done; the runtime is left as it was."""
