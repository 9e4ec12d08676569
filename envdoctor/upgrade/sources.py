"""Where wheels may come from, and the one rule for URLs: https, except loopback and local files."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple
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
    """An index (PEP 503, e.g. PyTorch's per-variant index or a mirror), flat find-links pages or
    folders (several PyTorch mirrors are laid out that way), or a wheelhouse (a folder, offline)."""

    index_url: Optional[str] = None
    wheelhouse: Optional[str] = None
    find_links: Tuple[str, ...] = ()

    @property
    def offline(self) -> bool:
        return bool(self.wheelhouse)

    def locations(self) -> List[str]:
        """Flat locations (find-links URLs or folders), the wheelhouse last."""
        out = list(self.find_links)
        if self.wheelhouse:
            out.append(os.path.abspath(self.wheelhouse))
        return out

    def pip_args(self) -> List[str]:
        if self.wheelhouse and not self.find_links:
            return ["--no-index", "--find-links", os.path.abspath(self.wheelhouse)]
        args: List[str] = []
        if self.index_url and not self.wheelhouse:
            args += ["--index-url", check_url(self.index_url)]
        else:
            args.append("--no-index")
        for location in self.locations():
            args += ["--find-links", check_url(location) if "://" in location else os.path.abspath(location)]
        if args == ["--no-index"]:
            raise UpgradeError("upgrade.error.no_source")
        return args

    def describe(self) -> str:
        parts = [self.index_url] if self.index_url and not self.wheelhouse else []
        parts += self.locations()
        return ", ".join(p for p in parts if p) or "-"
