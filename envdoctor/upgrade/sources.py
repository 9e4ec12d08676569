"""Where wheels may come from, and the one rule for URLs: https, except loopback and local files."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
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


def file_url(path: str) -> str:
    """The file: URL of a local file. On Windows the drive stays in the path (file:///E:/pack/x.whl; a
    hand-built file://E:/... puts the drive where the host goes, and the file is then looked for on the
    current drive) and a UNC share's server becomes the host; characters such as # and % are quoted."""
    return Path(os.path.abspath(path)).as_uri()


_DRIVE = re.compile(r"[A-Za-z]:")


def file_url_path(url: str, windows: Optional[bool] = None) -> Optional[str]:
    """The local path a file: URL names (the inverse of file_url, and of what pip and browsers write)."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    windows = os.name == "nt" if windows is None else windows
    host, path = parsed.netloc, unquote(parsed.path)
    if not windows:
        return path
    if _DRIVE.fullmatch(host):  # file://E:/pack/x.whl: the drive was read as the host
        return host + path.replace("/", "\\")
    if host and host.lower() != "localhost":  # file://server/share/x.whl
        return "\\\\" + host + path.replace("/", "\\")
    if path.startswith("/") and _DRIVE.match(path[1:3]):
        path = path[1:]
    return path.replace("/", "\\")


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
