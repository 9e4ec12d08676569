"""The report's upgrade section: the last upgrade `fix` tried (its outcome and reason) and the newest
upgrade transaction log, so that a helper sees why B failed without asking the user to run it again."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Tuple

from envdoctor.fileio.safeio import read_capped, read_tail

# Written by fix after each B (envdoctor/fix/walk.py), read here.
ATTEMPT = os.path.join(".envdoctor", "fix", "last-upgrade.json")
LOGS = os.path.join(".envdoctor", "upgrade", "logs")
MAX_ATTEMPT_BYTES = 256 * 1024
MAX_LOG_BYTES = 256 * 1024


def upgrade_state(root: Optional[str]) -> Tuple[Optional[Dict[str, Any]], Dict[str, str]]:
    """(section or None when no upgrade was tried here, {evidence path: text})."""
    if not root:
        return None, {}
    section: Dict[str, Any] = {}
    files: Dict[str, str] = {}
    attempt = _attempt(os.path.join(root, ATTEMPT))
    if attempt is not None:
        section["attempt"] = attempt
    log = _newest_log(os.path.join(root, LOGS))
    if log is not None:
        name = "evidence/upgrade/" + os.path.basename(log)
        try:
            _size, _start, data = read_tail(log, MAX_LOG_BYTES)  # the end says how it ended
        except OSError:
            data = b""
        if data:
            files[name] = data.decode("utf-8", errors="replace")
            section["log"] = name
    return (section or None), files


def _attempt(path: str) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads(read_capped(path, MAX_ATTEMPT_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    return {key: data[key] for key in ("when", "exit_code", "status", "reason", "mirror", "wheelhouse")
            if isinstance(data.get(key), (str, int)) and not isinstance(data.get(key), bool)}


def _newest_log(folder: str) -> Optional[str]:
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".log")]
    except OSError:
        return None
    paths = [os.path.join(folder, n) for n in names]
    regular = []
    for path in paths:
        try:
            if os.path.isfile(path) and not os.path.islink(path):
                regular.append((os.path.getmtime(path), path))
        except OSError:
            continue
    return max(regular)[1] if regular else None
