"""Downloading wheels: resumable (HTTP Range), retried, sha256-verified before use, cached.

A file is only ever used from its final cache name, and it only gets that name after its hash
matched the one the index published; partial downloads live as `<name>.part` and are resumed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from envdoctor.fileio.paths import trusted_entry
from envdoctor.upgrade import httpsession
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.resolve import WheelRef
from envdoctor.upgrade.sources import check_url, file_url_path

CHUNK = 1 << 20
Progress = Callable[[str, int, Optional[int]], None]  # (filename, bytes done, total or None)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class _Dropped(Exception):
    """The connection ended before the whole file came; resume from where it stopped."""


@dataclass
class Downloader:
    cache_dir: str
    retries: int = httpsession.RETRIES  # session, timeout and retry policy: httpsession's, shared with Http
    backoff_s: float = httpsession.BACKOFF_S
    timeout_s: float = httpsession.TIMEOUT_S
    progress: Optional[Progress] = None
    session: object = None
    on_retry: Optional[Callable[[str, Dict[str, object]], None]] = None  # a stall is said, not waited out silently

    def _session(self):
        if self.session is None:
            self.session = httpsession.shared_session()  # requests loaded here: only a download pays for it
        return self.session

    def cached(self, filename: str, sha256: Optional[str]) -> Optional[str]:
        """The cache's verified copy of this file, if it has one (the final name is only given after
        the hash matched, so existence is enough here; the install step reads it again anyway)."""
        if not sha256:
            return None
        final = os.path.join(self.cache_dir, sha256, filename)
        return final if os.path.isfile(final) and trusted_entry(final) else None  # (not another user's)

    def adopt(self, filename: str, sha256: str, data: bytes) -> bool:
        """Keep a whole wheel that arrived while reading its metadata, if its hash is the published one."""
        if hashlib.sha256(data).hexdigest() != sha256:
            return False
        folder = os.path.join(self.cache_dir, sha256)
        os.makedirs(folder, exist_ok=True)
        part = os.path.join(folder, filename + ".part")
        with open(part, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, os.path.join(folder, filename))
        return True

    # -- wheels from a source that publishes no hash (a flat page): known by the hash envdoctor computed --
    def _url_record(self, url: str) -> str:
        return os.path.join(self.cache_dir, "by-url", hashlib.sha256(url.encode("utf-8")).hexdigest() + ".json")

    def remember(self, url: str, sha256: str, size: int, headers: Optional[Dict[str, str]] = None) -> None:
        """This URL served these bytes (hash computed here), with what the server said about them; the next
        read of the same URL (the run after its dry run) takes the cached file if the server still says so."""
        record = {"url": url, "sha256": sha256, "size": size}
        for name in ("ETag", "Last-Modified"):
            if headers and headers.get(name):
                record[name.lower()] = headers[name]
        path = self._url_record(url)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".part", "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(path + ".part", path)
        except OSError:
            pass  # a cache that cannot be written costs a second transfer, nothing else

    def recall(self, url: str, filename: str) -> Optional[Dict[str, object]]:
        """The record of this URL, if the file it names is in the cache (its name given after its hash)."""
        try:
            with open(self._url_record(url), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("url") != url or not isinstance(record.get("sha256"), str):
            return None
        return record if self.cached(filename, str(record["sha256"])) else None

    def adopt_computed(self, filename: str, data: bytes) -> str:
        """Keep a whole wheel that arrived from a source without hashes, named by the hash computed here."""
        sha = hashlib.sha256(data).hexdigest()
        self.adopt(filename, sha, data)
        return sha

    def size_of(self, wheel: WheelRef) -> Optional[int]:
        local = file_url_path(wheel.url)
        if local is not None:
            return os.path.getsize(local) if os.path.isfile(local) else None
        check_url(wheel.url)
        try:
            response = self._session().head(wheel.url, allow_redirects=True, timeout=self.timeout_s)
        except Exception:
            return None
        length = response.headers.get("Content-Length")
        return int(length) if response.ok and length and length.isdigit() else None

    def fetch(self, wheel: WheelRef) -> str:
        """Local path of the verified wheel (downloaded or taken from the cache or a wheelhouse); a torch
        wheel whose own torch/version.py says another build than the plan read for it is refused."""
        path = self._fetch(wheel)
        if wheel.name == "torch":
            check_torch_build(path, wheel)
        return path

    def _fetch(self, wheel: WheelRef) -> str:
        local = file_url_path(wheel.url)
        if local is not None:
            if not os.path.isfile(local):
                raise UpgradeError("upgrade.error.download_http", url=wheel.url, status="missing file")
            # A local folder publishes no hash, and a hash computed from the same file proves nothing:
            # none is claimed (the plan says these files are used as they are).
            if wheel.sha256 and sha256_of(local) != wheel.sha256:
                raise UpgradeError("upgrade.error.hash_mismatch", file=wheel.filename, url=wheel.url)
            if self.progress:
                size = os.path.getsize(local)
                self.progress(wheel.filename, size, size)
            return local
        check_url(wheel.url)
        if not wheel.sha256 and not wheel.unhashed_ok:
            raise UpgradeError("upgrade.error.no_hash", file=wheel.filename, url=wheel.url)
        # pip reads name, version and tags from the file name: keep it, in a folder named by the hash
        # (a flat mirror that publishes no hash: downloaded in a folder of this run, then named by the hash
        # computed here, so the next run can recognise the bytes and this one leaves no folder behind)
        folder = os.path.join(self.cache_dir, wheel.sha256 or f"unhashed-{os.getpid()}")
        os.makedirs(folder, exist_ok=True)
        final = os.path.join(folder, wheel.filename)
        if wheel.sha256 and os.path.isfile(final) and sha256_of(final) == wheel.sha256:
            if self.progress:
                size = os.path.getsize(final)
                self.progress(wheel.filename, size, size)
            return final
        part = final + ".part"
        restarted = False
        attempt = 0
        while True:
            try:
                self._download(wheel, part)
            except _Dropped as exc:
                attempt += 1
                if attempt > self.retries:
                    raise UpgradeError("upgrade.error.download_failed", url=wheel.url, detail=str(exc)) from exc
                if self.on_retry:
                    self.on_retry("upgrade.retrying", {"url": wheel.url, "attempt": attempt, "of": self.retries,
                                                       "reason": str(exc)[:200]})
                time.sleep(httpsession.pause_s(attempt, self.backoff_s))
                continue
            if not wheel.sha256:
                return self._name_by_hash(wheel, part, folder)
            if sha256_of(part) == wheel.sha256:
                os.replace(part, final)
                return final
            os.unlink(part)
            if restarted:
                raise UpgradeError("upgrade.error.hash_mismatch", file=wheel.filename, url=wheel.url)
            restarted = True  # a bad resume base is possible once; a second mismatch is the index's

    def _name_by_hash(self, wheel: WheelRef, part: str, folder: str) -> str:
        sha = sha256_of(part)
        home = os.path.join(self.cache_dir, sha)
        os.makedirs(home, exist_ok=True)
        final = os.path.join(home, wheel.filename)
        os.replace(part, final)
        try:
            os.rmdir(folder)  # the run's own unhashed-<pid> folder, now empty
        except OSError:
            pass
        self.remember(wheel.url, sha, os.path.getsize(final), self._last_headers)
        return final

    _last_headers: Optional[Dict[str, str]] = None

    def _download(self, wheel: WheelRef, part: str) -> None:
        import requests  # as in _session: loaded only when a wheel is fetched

        have = os.path.getsize(part) if os.path.exists(part) else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = self._session().get(wheel.url, headers=headers, stream=True, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise _Dropped(f"{type(exc).__name__}: {exc}") from exc
        with response:
            self._last_headers = {k: v for k, v in response.headers.items() if k in ("ETag", "Last-Modified")}
            if response.status_code == 416 and have:
                return  # nothing left to fetch: the hash check decides whether the part is whole
            if response.status_code == 206 and have:
                mode = "ab"
                total = _total_from_range(response.headers.get("Content-Range"))
            elif response.status_code == 200:
                mode, have = "wb", 0  # the server ignored Range: start over
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            elif httpsession.retry_status(response.status_code):
                raise _Dropped(f"HTTP {response.status_code}")
            else:
                raise UpgradeError("upgrade.error.download_http", url=wheel.url, status=response.status_code)
            try:
                with open(part, mode) as handle:
                    for block in response.iter_content(CHUNK):
                        handle.write(block)
                        have += len(block)
                        if self.progress:
                            self.progress(wheel.filename, have, total)
                    handle.flush()
                    os.fsync(handle.fileno())
            except requests.RequestException as exc:
                raise _Dropped(f"{type(exc).__name__}: {exc}") from exc
            except OSError as exc:  # the cache's disk is full (or the file too big for it): say so, keep nothing
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
                try:
                    os.unlink(part)
                except OSError:
                    pass
                raise UpgradeError("upgrade.error.cache_full", path=os.path.dirname(part), file=wheel.filename,
                                   detail=os.strerror(exc.errno)) from exc
            if total is not None and have < total:
                raise _Dropped(f"connection closed after {have} of {total} bytes")


def check_torch_build(path: str, wheel: WheelRef) -> None:
    """The build a torch wheel is (its torch/version.py) against the one its name (or the plan) said: a
    mirror that serves a CPU build under a CUDA name is caught here at the latest, and blamed."""
    import zipfile

    from envdoctor.upgrade.metaresolve import VERSION_FILE, build_of_cuda, cuda_of_version_py

    if not wheel.build:
        return  # the plan claimed no CUDA build (a CPU plan, or a resolution that did not say)

    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read(VERSION_FILE).decode("utf-8", errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return  # not readable as such: pip and the verification will say what is wrong
    actual, said = build_of_cuda(cuda_of_version_py(text)), build_of_cuda(wheel.build)
    if actual != said:
        raise UpgradeError("upgrade.error.mislabeled", file=wheel.filename, url=wheel.url, said=said, actual=actual)


def _total_from_range(value: Optional[str]) -> Optional[int]:
    # "bytes 100-999/1000"
    if not value or "/" not in value:
        return None
    tail = value.rsplit("/", 1)[1].strip()
    return int(tail) if tail.isdigit() else None
