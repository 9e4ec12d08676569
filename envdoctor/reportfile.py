"""Reading a report.json back (report --from, summarize, --facts-from): a plain file or the one inside a
report zip, size-bounded. Standard library only, below both the probes and the report package."""

from __future__ import annotations

import os
from typing import Any

MAX_REPORT_BYTES = 16 * 1024 * 1024  # a report.json read back (report --from, summarize)


def read_report_json(path: str) -> Any:
    """The parsed report.json of a report zip (by name or content) or a loose JSON file; None for a
    zip without one.

    Raises OSError, ValueError (also for more than MAX_REPORT_BYTES) or zipfile.BadZipFile.
    """
    import json
    import zipfile

    if path.lower().endswith(".zip") or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "report.json" not in archive.namelist():
                return None
            if archive.getinfo("report.json").file_size > MAX_REPORT_BYTES:
                raise ValueError("report.json is too large")
            return json.loads(archive.read("report.json").decode("utf-8"))
    if os.path.getsize(path) > MAX_REPORT_BYTES:
        raise ValueError("too large for a report")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
