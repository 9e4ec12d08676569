"""Reading a report.json back (report --from, summarize, --facts-from): a plain file or the one inside a
report zip, size-bounded. Below both the probes and the report package (standard library and safeio only).
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

from envdoctor.fileio.safeio import open_regular

MAX_REPORT_BYTES = 16 * 1024 * 1024  # a report.json read back (report --from, summarize)


def read_member(archive: Any, name: str, limit: int) -> bytes:
    """One zip member, at most `limit` bytes whatever its header claims (a small zip can inflate to
    gigabytes); ValueError beyond."""
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} is larger than {limit >> 20} MiB")
    return data


def read_report_json(path: str) -> Any:
    """The parsed report.json of a report zip (by name or content) or a loose JSON file; None for a
    zip without one.

    Only a regular file is opened (a FIFO or device is refused without blocking, UnsafePathError),
    and no more than MAX_REPORT_BYTES is read or inflated, whatever the file or the zip claims.
    Raises OSError, ValueError (too large, too deeply nested, not JSON) or zipfile.BadZipFile.
    """


    with os.fdopen(open_regular(path), "rb") as handle:
        if path.lower().endswith(".zip") or zipfile.is_zipfile(handle):
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                if "report.json" not in archive.namelist():
                    return None
                data = read_member(archive, "report.json", MAX_REPORT_BYTES)
        else:
            handle.seek(0)
            data = handle.read(MAX_REPORT_BYTES + 1)
            if len(data) > MAX_REPORT_BYTES:
                raise ValueError("too large for a report")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
