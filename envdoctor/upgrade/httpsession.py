"""The one HTTP session of an upgrade, and the one retry policy.

Index pages and wheel metadata (wheelread.Http) and wheel downloads (download.Downloader) go through the
same requests session: one connection pool (the metadata read and the download of a wheel reuse the
connection to its host), one way to find proxies (the environment's, as pip does), the same timeout, and
the same answer to "try again?": a stall, a dropped connection, 408, 429 or a 5xx is retried RETRIES
times with a growing pause; anything else (refused, no such host, 404) is the answer.

requests is loaded on the first request only (~100 ms: urllib3, ssl): a plan from a local folder or a
rollback never pays for it.
"""

from __future__ import annotations

from typing import Any

TIMEOUT_S = 60.0  # one request that says nothing for this long has stalled
RETRIES = 5  # each retry of a download resumes where the last one stopped (HTTP Range)
BACKOFF_S = 0.5  # the first pause; it doubles each time
MAX_BACKOFF_S = 10.0

_shared: Any = None


def shared_session() -> Any:
    """The process's requests.Session, made on first use."""
    global _shared
    if _shared is None:
        import requests  # see the module docstring: only a real transfer loads it

        session = requests.Session()
        session.trust_env = True  # proxies and certificates from the environment, as pip would use
        _shared = session
    return _shared


def retry_status(status: int) -> bool:
    """An HTTP status that says "not now" rather than "no": worth another try."""
    return status in (408, 429) or status >= 500


def pause_s(attempt: int, backoff_s: float = BACKOFF_S) -> float:
    """How long to wait before retry number `attempt` (1-based)."""
    return min(backoff_s * (2 ** (attempt - 1)), MAX_BACKOFF_S)
