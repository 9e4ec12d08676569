"""Where wheels may come from, and the one rule for URLs: https, except loopback and local files."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import List, Optional
from urllib.parse import unquote, urlparse

from envdoctor.upgrade.errors import UpgradeError


def is_loopback(host: Optional[str]) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL, if envdoctor may fetch from it; UpgradeError otherwise."""
    parsed = urlparse(url)
    if parsed.scheme == "https" or parsed.scheme == "file":
        return url
    if parsed.scheme == "http" and is_loopback(parsed.hostname):
        return url
    raise UpgradeError("upgrade.error.insecure_url", url=url)


def file_url_path(url: str) -> Optional[str]:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if os.name == "nt" and path.startswith("/") and len(path) > 2 and path[2] == ":":
        path = path[1:]
    return path


@dataclass(frozen=True)
class Source:
    """An index (PEP 503, e.g. PyTorch's per-variant index or a mirror) or a folder of wheels."""

    index_url: Optional[str] = None
    wheelhouse: Optional[str] = None

    def pip_args(self) -> List[str]:
        if self.wheelhouse:
            return ["--no-index", "--find-links", os.path.abspath(self.wheelhouse)]
        if self.index_url:
            return ["--index-url", check_url(self.index_url)]
        raise UpgradeError("upgrade.error.no_source")

    def describe(self) -> str:
        return self.wheelhouse or self.index_url or "-"
