"""What `envdoctor matrix` reports: which matrix, how many rows, how much of it is verified, on what."""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict

from envdoctor.matrix.views import Matrix

SCHEMA = "envdoctor.matrix"
TOP_SOURCES = 12


def _share(verified: int, rows: int) -> float:
    return round(100.0 * verified / rows, 1) if rows else 0.0


def summarize(matrix: Matrix) -> Dict[str, Any]:
    facts = matrix.fact_statuses
    verified, rows = matrix.verified_share()
    blocking_verified, blocking_rows = matrix.verified_share(blocking_only=True)
    per_file: Dict[str, Dict[str, int]] = {}
    for fact in facts:
        entry = per_file.setdefault(fact.file, {"rows": 0, "verified": 0})
        entry["rows"] += 1
        entry["verified"] += int(fact.verified)
    urls = Counter(f.url for f in facts if f.url)
    return {
        "schema": SCHEMA,
        "schema_version": 1,
        "matrix_version": matrix.about.get("matrix_version"),
        "date": matrix.about.get("date"),
        "where": matrix.where,
        "rows": rows,
        "verified": verified,
        "verified_percent": _share(verified, rows),
        "blocking": {"rows": blocking_rows, "verified": blocking_verified,
                     "verified_percent": _share(blocking_verified, blocking_rows)},
        "by_kind": dict(sorted(Counter(f.kind for f in facts).items())),
        "files": dict(sorted(per_file.items())),
        "sources": [{"url": url, "rows": count} for url, count in urls.most_common(TOP_SOURCES)],
        "unverified_blocking": [f"{f.file} {f.ref}" for f in facts if f.blocking and not f.verified],
    }
