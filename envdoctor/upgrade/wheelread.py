"""A wheel's metadata (and single members such as torch/version.py) without downloading the wheel.

In order of cost: a wheel already in the download cache or in a local folder is read from disk; an
index that serves PEP 658 `.metadata` files gives METADATA alone; otherwise HTTP range requests read
the zip's central directory and then just the member. A server that ignores Range sends the whole
file: then it is kept in the download cache (hash-checked), so those bytes are never fetched again.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from envdoctor.upgrade import httpsession, zipmeta
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.finder import Link
from envdoctor.upgrade.sources import check_url


@dataclass
class Http:
    """requests with a byte count (what this run received, for the log and the tests). The session, timeout
    and retry policy are httpsession's, shared with the download."""

    timeout_s: float = httpsession.TIMEOUT_S
    session: object = None
    received: int = 0
    requests: int = 0
    retries: int = httpsession.RETRIES  # a stalled or dropped request (timeout, reset, 5xx) is tried again,
    backoff_s: float = httpsession.BACKOFF_S  # said through on_retry
    on_retry: Optional[Callable[[str, Dict[str, object]], None]] = None
    last_headers: Optional[Dict[str, str]] = None  # ETag / Last-Modified of the last answer

    def _session(self):
        if self.session is None:
            self.session = httpsession.shared_session()
        return self.session

    def _get(self, url: str, headers: Optional[dict] = None):
        import requests  # loaded by the session already (see httpsession)

        check_url(url)
        attempt = 0
        while True:
            self.requests += 1
            try:
                response = self._session().get(url, headers=headers or {}, timeout=self.timeout_s)
                self.received += len(response.content)
                self.last_headers = {k: v for k, v in response.headers.items() if k in ("ETag", "Last-Modified")}
            except (requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                problem: Optional[str] = f"{type(exc).__name__}: {exc}"  # stalled or dropped: worth a retry
                response = None
            except requests.RequestException as exc:  # refused, no such host: retrying will not help
                raise UpgradeError("upgrade.error.index_unreachable", url=url,
                                   detail=f"{type(exc).__name__}: {exc}") from exc
            else:
                problem = f"HTTP {response.status_code}" if httpsession.retry_status(response.status_code) else None
            if problem is None:
                return response
            attempt += 1
            if attempt > self.retries:
                if response is not None:
                    return response  # the status is the answer (download_http names it)
                raise UpgradeError("upgrade.error.index_unreachable", url=url, detail=problem)
            if self.on_retry:
                self.on_retry("upgrade.retrying", {"url": url, "attempt": attempt, "of": self.retries,
                                                   "reason": problem[:200]})
            time.sleep(httpsession.pause_s(attempt, self.backoff_s))

    def get_text(self, url: str) -> Optional[str]:
        """The page, or None for 404; other failures are errors that name the URL."""
        response = self._get(url, {"Accept": "text/html"})
        if response.status_code == 404:
            return None
        if not response.ok:
            raise UpgradeError("upgrade.error.download_http", url=url, status=response.status_code)
        return response.text

    def get_bytes(self, url: str) -> Optional[bytes]:
        response = self._get(url)
        if response.status_code == 404:
            return None
        if not response.ok:
            raise UpgradeError("upgrade.error.download_http", url=url, status=response.status_code)
        return response.content

    def head(self, url: str) -> Optional[Dict[str, str]]:
        """The headers of a HEAD request (None when it fails: then nothing cached is trusted)."""
        check_url(url)
        try:
            self.requests += 1
            response = self._session().head(url, allow_redirects=True, timeout=self.timeout_s)
        except Exception:  # noqa: BLE001 - any failure means: do not reuse
            return None
        return dict(response.headers) if response.ok else None

    def get_range(self, url: str, spec: str) -> Tuple[int, bytes, Optional[int], int]:
        """(status, body, total size, first byte) of a Range request; status 200 means no range support."""
        response = self._get(url, {"Range": f"bytes={spec}", "Accept-Encoding": "identity"})
        if response.status_code == 200:
            return 200, response.content, len(response.content), 0
        if response.status_code != 206:
            raise UpgradeError("upgrade.error.download_http", url=url, status=response.status_code)
        match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
        if not match:
            raise UpgradeError("upgrade.error.download_http", url=url, status="206 without Content-Range")
        total = int(match.group(3)) if match.group(3) != "*" else None
        return 206, response.content, total, int(match.group(1))


@dataclass
class WheelInfo:
    metadata: str
    size: Optional[int] = None
    unpacked: Optional[int] = None  # sum of member sizes, when the directory was read
    members: Dict[str, bytes] = field(default_factory=dict)


class WheelReader:
    def __init__(self, http: Http, downloader) -> None:
        self.http = http
        self.downloader = downloader
        self._dirs: Dict[str, Tuple[List[zipmeta.Member], int]] = {}
        self._tails: Dict[str, Tuple[int, bytes]] = {}  # url -> (offset of the bytes held, bytes)
        self.computed: Dict[str, str] = {}  # url -> sha256 computed here (a source that publishes none)

    def hash_of(self, link: Link) -> Optional[str]:
        """The hash the source published, else the one computed here from the bytes it sent."""
        return link.sha256 or self.computed.get(link.url)

    def _recalled(self, link: Link) -> Optional[str]:
        """A wheel of a source without hashes that an earlier run fetched whole: reused (by the hash computed
        then) while the server still describes the same file (size, and ETag/Last-Modified when it sends them)."""
        if link.sha256 or link.local_path or not hasattr(self.downloader, "recall"):
            return None
        record = self.downloader.recall(link.url, link.filename)
        if record is None:
            return None
        headers = self.http.head(link.url)
        if headers is None or str(headers.get("Content-Length")) != str(record.get("size")):
            return None
        for name in ("ETag", "Last-Modified"):
            if record.get(name.lower()) and headers.get(name) != record.get(name.lower()):
                return None
        self.computed[link.url] = str(record["sha256"])
        return self.downloader.cached(link.filename, str(record["sha256"]))

    # -- local ------------------------------------------------------------------------------------
    def _local(self, path: str, want: Tuple[str, ...]) -> WheelInfo:
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
                meta = next((i for i in infos if i.filename.count("/") == 1
                             and i.filename.split("/")[0].endswith(".dist-info")
                             and i.filename.endswith("/METADATA")), None)
                if meta is None:
                    raise UpgradeError("upgrade.error.bad_wheel", file=path, detail="no METADATA")
                members = {i.filename: _read_capped(archive, i) for i in infos if i.filename in want}
                text = _read_capped(archive, meta).decode("utf-8", errors="replace")
                return WheelInfo(zipmeta.metadata_headers(text), os.path.getsize(path),
                                 sum(i.file_size for i in infos), members)
        except (OSError, zipfile.BadZipFile, zipmeta.ZipFormatError, NotImplementedError, RuntimeError,
                zlib.error) as exc:
            raise UpgradeError("upgrade.error.bad_wheel", file=path, detail=str(exc)) from exc

    def read(self, link: Link, want: Tuple[str, ...] = ()) -> WheelInfo:
        """METADATA (and the members in `want`) of the wheel behind `link`, as cheaply as possible."""
        local = link.local_path or (self.downloader.cached(link.filename, self.hash_of(link))
                                    if self.hash_of(link) else None) or self._recalled(link)
        if local:
            return self._local(local, want)
        if link.metadata is not None and not want:
            data = self.http.get_bytes(link.url + ".metadata")
            if data is not None:
                if link.metadata and hashlib.sha256(data).hexdigest() != link.metadata:
                    raise UpgradeError("upgrade.error.hash_mismatch", file=link.filename + ".metadata",
                                       url=link.url + ".metadata")
                try:
                    zipmeta.check_member_size("METADATA", len(data))
                    return WheelInfo(zipmeta.metadata_headers(data.decode("utf-8", errors="replace")))
                except zipmeta.ZipFormatError as exc:
                    raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=str(exc)) from exc
        return self._remote(link, want)

    # -- remote: range requests ---------------------------------------------------------------------
    def _remote(self, link: Link, want: Tuple[str, ...]) -> WheelInfo:
        listing = self._directory(link)
        if listing is None:  # the server sent the whole wheel: it is in the cache now
            local = self.downloader.cached(link.filename, self.hash_of(link))
            if local is None:
                raise UpgradeError("upgrade.error.no_hash", file=link.filename, url=link.url)
            return self._local(local, want)
        members, total = listing
        meta = zipmeta.metadata_member(members)
        if meta is None:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail="no METADATA")
        text = self._member(link, meta).decode("utf-8", errors="replace")
        try:
            headers = zipmeta.metadata_headers(text)
        except zipmeta.ZipFormatError as exc:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=str(exc)) from exc
        info = WheelInfo(headers, total, sum(m.file_size for m in members))
        for name in want:
            member = zipmeta.find_member(members, name)
            if member is not None:
                info.members[name] = self._member(link, member)
        return info

    def _directory(self, link: Link) -> Optional[Tuple[List[zipmeta.Member], int]]:
        if link.url in self._dirs:
            return self._dirs[link.url]
        status, tail, total, first = self.http.get_range(link.url, f"-{zipmeta.TAIL_BYTES}")
        if total is None:
            raise UpgradeError("upgrade.error.download_http", url=link.url, status="unknown size")
        if first == 0 and len(tail) == total:
            # The whole file came (a small wheel, or no Range support): keep it rather than fetch it again.
            if link.sha256 and self.downloader.adopt(link.filename, link.sha256, tail):
                return None
            if not link.sha256 and hasattr(self.downloader, "adopt_computed"):
                # no hash published (a flat page): keep the bytes under the hash computed here, so the
                # download reuses them and the run after this dry run recognises them (each byte once)
                sha = self.downloader.adopt_computed(link.filename, tail)
                self.computed[link.url] = sha
                self.downloader.remember(link.url, sha, len(tail), self.http.last_headers)
                return None
            return self._parse_whole(link, tail)
        try:
            offset, size = zipmeta.directory_span(tail, total)
            start_in_tail = offset - (total - len(tail))
            if start_in_tail >= 0:
                data = tail[start_in_tail:start_in_tail + size]
            else:
                _s, head, _t, _f = self.http.get_range(link.url, f"{offset}-{total - len(tail) - 1}")
                data = head + tail[:size - len(head)]
            members = zipmeta.parse_directory(data)
        except zipmeta.ZipFormatError as exc:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=str(exc)) from exc
        self._dirs[link.url] = (members, total)
        self._tails[link.url] = (total - len(tail), tail)
        return members, total

    def _parse_whole(self, link: Link, data: bytes) -> Tuple[List[zipmeta.Member], int]:
        offset, size = zipmeta.directory_span(data, len(data))
        members = zipmeta.parse_directory(data[offset:offset + size])
        self._tails[link.url] = (0, data)
        self._dirs[link.url] = (members, len(data))
        return members, len(data)

    def _member(self, link: Link, member: zipmeta.Member) -> bytes:
        try:
            zipmeta.check_member_size(member.name, max(member.file_size, member.compressed_size))
        except zipmeta.ZipFormatError as exc:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=str(exc)) from exc
        start, end = zipmeta.local_span(member)
        base, tail = self._tails.get(link.url, (None, b""))
        if base is not None and start >= base and end < base + len(tail):
            chunk = tail[start - base:]  # already read with the directory
        else:
            _s, chunk, _t, _f = self.http.get_range(link.url, f"{start}-{end}")
        try:
            data = zipmeta.member_bytes(chunk, member)
            if data is None:  # an unusually long local extra field: read exactly what is missing
                _s, chunk, _t, _f = self.http.get_range(link.url, f"{start}-{end + 65536}")
                data = zipmeta.member_bytes(chunk, member)
        except (zipmeta.ZipFormatError, ValueError, zlib.error) as exc:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=str(exc)) from exc
        if data is None:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=f"{member.name} unreadable")
        try:
            zipmeta.check_member_size(member.name, 0, data)
        except zipmeta.ZipFormatError as exc:
            raise UpgradeError("upgrade.error.bad_wheel", file=link.filename, detail=str(exc)) from exc
        return data


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member of a local wheel, refused past zipmeta's cap (its header may lie about its size)."""
    zipmeta.check_member_size(info.filename, info.file_size)
    with archive.open(info) as handle:
        data = handle.read(zipmeta.MAX_MEMBER_BYTES + 1)
    zipmeta.check_member_size(info.filename, 0, data)
    return data
