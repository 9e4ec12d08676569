"""Where the wheels of a project are: a PEP 503 index page, a flat find-links page, or a local folder.

Each wheel is a `Link`: its file name (name, version, tags), its URL, the hash the source published
(if any), and whether the source serves its metadata separately (PEP 658 / 714 `.metadata` files).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Dict, FrozenSet, List, Optional, Tuple
from urllib.parse import unquote, urljoin, urlparse

from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.sources import Source, check_url, file_url, file_url_path


@dataclass(frozen=True)
class Link:
    filename: str
    url: str
    sha256: Optional[str]  # published by the source (None: the source publishes none, or a local file)
    requires_python: Optional[str]
    metadata: Optional[str]  # None: no .metadata file; "": one without a hash; else its sha256
    origin: str  # index | find-links | folder
    yanked: bool = False  # PEP 592: used only when pinned exactly (==), as pip does

    @property
    def parsed(self) -> Tuple[str, Version, FrozenSet[Tag]]:
        name, version, _build, tags = parse_wheel_filename(self.filename)
        return str(name), version, tags

    @property
    def local_path(self) -> Optional[str]:
        return file_url_path(self.url)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: List[Dict[str, Optional[str]]] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def _hash_of(value: Optional[str]) -> Optional[str]:
    if value and value.startswith("sha256="):
        return value.split("=", 1)[1]
    return None


def links_from_html(html: str, page_url: str, origin: str) -> List[Link]:
    parser = _Anchors()
    parser.feed(html)
    out = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url = urljoin(page_url, href)
        base, _, fragment = url.partition("#")
        filename = unquote(urlparse(base).path.rsplit("/", 1)[-1])
        if not filename.endswith(".whl"):
            continue
        meta_attr = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        # None: no separate metadata; "": served without a hash; else its sha256
        metadata = None if meta_attr is None or meta_attr == "false" else (_hash_of(meta_attr) or "")
        out.append(Link(filename, base, _hash_of(fragment), attrs.get("data-requires-python"), metadata, origin,
                        "data-yanked" in attrs))
    return out


def links_from_folder(folder: str) -> List[Link]:
    if not os.path.isdir(folder):
        raise UpgradeError("upgrade.error.no_wheelhouse", path=folder)
    out = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".whl"):
            path = os.path.abspath(os.path.join(folder, name))
            out.append(Link(name, file_url(path), None, None, None, "folder"))
    return out


class Finder:
    """All links of a project across the source's locations (pages fetched once per run)."""

    def __init__(self, source: Source, http) -> None:
        self.source = source
        self.http = http
        self._flat: Optional[List[Link]] = None
        self._by_project: Dict[str, List[Link]] = {}

    def _flat_links(self) -> List[Link]:
        if self._flat is None:
            flat: List[Link] = []
            for location in self.source.locations():
                if location.startswith(("http://", "https://")):
                    check_url(location)
                    text = self.http.get_text(location)
                    if text is None:
                        raise UpgradeError("upgrade.error.find_links_unreachable", url=location)
                    flat += links_from_html(text, location, "find-links")
                else:
                    flat += links_from_folder(file_url_path(location) or location)
            self._flat = flat
        return self._flat

    def links(self, project: str) -> List[Link]:
        key = str(canonicalize_name(project))
        if key in self._by_project:
            return self._by_project[key]
        found = [link for link in self._flat_links() if _project_of(link.filename) == key]
        if self.source.index_url and not self.source.wheelhouse:
            page = self.source.index_url.rstrip("/") + "/" + key + "/"
            text = self.http.get_text(check_url(page))
            if text is not None:
                found += links_from_html(text, page, "index")
        self._by_project[key] = found
        return found


def _project_of(filename: str) -> Optional[str]:
    match = re.match(r"^([A-Za-z0-9_.]+)-", filename)
    return str(canonicalize_name(match.group(1))) if match else None
