"""Downloads against a real HTTP server on 127.0.0.1 with failure fixtures."""

from __future__ import annotations

import hashlib
import os

import pytest
import upgrade_helpers as h

from envdoctor.upgrade.download import Downloader, sha256_of
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.resolve import WheelRef
from envdoctor.upgrade.sources import check_url


@pytest.fixture
def served(tmp_path):
    path = h.build_wheel(str(tmp_path / "w"), "bigpkg", "1.0", {"bigpkg/blob.bin": os.urandom(3 << 20)})
    with h.IndexServer([path]) as server:
        name = os.path.basename(path)
        ref = WheelRef("bigpkg", "1.0", server.file_url(name), name, sha256_of(path), True)
        yield server, ref, path


def downloader(tmp_path, **kw):
    return Downloader(str(tmp_path / "cache"), backoff_s=0.01, **kw)


def test_download_verifies_and_caches(tmp_path, served):
    server, ref, path = served
    seen = []
    d = downloader(tmp_path, progress=lambda f, done, total: seen.append((done, total)))
    local = d.fetch(ref)
    assert sha256_of(local) == ref.sha256 and os.path.basename(local) == ref.filename
    assert seen[-1] == (os.path.getsize(path), os.path.getsize(path))
    gets = len([r for r in server.requests if r[0] == "GET"])
    assert d.fetch(ref) == local
    assert len([r for r in server.requests if r[0] == "GET"]) == gets  # served from the cache


def test_dropped_connection_resumes_with_range(tmp_path, served):
    server, ref, path = served
    server.drop_after[ref.filename] = (1 << 20, 1)
    local = downloader(tmp_path).fetch(ref)
    assert sha256_of(local) == ref.sha256
    ranges = [r[2] for r in server.requests if r[0] == "GET" and r[2]]
    assert ranges == [f"bytes={1 << 20}-"]


def test_connection_that_keeps_dropping_fails_and_keeps_the_part(tmp_path, served):
    server, ref, _path = served
    server.drop_after[ref.filename] = (1 << 18, 100)
    with pytest.raises(UpgradeError) as err:
        downloader(tmp_path, retries=2).fetch(ref)
    assert err.value.key == "upgrade.error.download_failed"
    parts = [f for _d, _s, fs in os.walk(tmp_path / "cache") for f in fs if f.endswith(".part")]
    assert len(parts) == 1  # the next run resumes from it
    server.drop_after.clear()
    assert sha256_of(downloader(tmp_path).fetch(ref)) == ref.sha256


def test_wrong_hash_is_refused_and_nothing_kept(tmp_path, served):
    _server, ref, _path = served
    bad = WheelRef(ref.name, ref.version, ref.url, ref.filename, hashlib.sha256(b"x").hexdigest(), True)
    with pytest.raises(UpgradeError) as err:
        downloader(tmp_path).fetch(bad)
    assert err.value.key == "upgrade.error.hash_mismatch"
    assert [f for _d, _s, fs in os.walk(tmp_path / "cache") for f in fs] == []


def test_truncated_file_is_refused(tmp_path, served):
    server, ref, _path = served
    server.truncated.add(ref.filename)
    with pytest.raises(UpgradeError) as err:
        downloader(tmp_path).fetch(ref)
    assert err.value.key == "upgrade.error.hash_mismatch"


def test_404(tmp_path, served):
    server, ref, _path = served
    server.missing.add(ref.filename)
    with pytest.raises(UpgradeError) as err:
        downloader(tmp_path).fetch(ref)
    assert err.value.key == "upgrade.error.download_http" and err.value.params["status"] == 404


def test_no_published_hash_is_refused(tmp_path, served):
    _server, ref, _path = served
    with pytest.raises(UpgradeError) as err:
        downloader(tmp_path).fetch(WheelRef(ref.name, ref.version, ref.url, ref.filename, None, True))
    assert err.value.key == "upgrade.error.no_hash"


@pytest.mark.parametrize("url", ["http://example.org/simple/", "ftp://127.0.0.1/x.whl",
                                 "http://10.1.2.3/simple/", "http://127.0.0.1.example.org/x"])
def test_only_https_except_loopback(url, tmp_path):
    with pytest.raises(UpgradeError) as err:
        check_url(url)
    assert err.value.key == "upgrade.error.insecure_url"
    with pytest.raises(UpgradeError):
        downloader(tmp_path).fetch(WheelRef("a", "1", url + "a-1-py3-none-any.whl", "a-1-py3-none-any.whl",
                                            "0" * 64, True))


@pytest.mark.parametrize("url", ["https://download.pytorch.org/whl/cu128", "http://127.0.0.1:8080/simple/",
                                 "http://[::1]:9/simple/", "http://localhost/simple/", "file:///tmp/w"])
def test_allowed_urls(url):
    assert check_url(url) == url


def test_server_that_ignores_range_restarts_cleanly(tmp_path, served, monkeypatch):
    """A part file whose server answers 200 to a Range request is rewritten from the start."""
    server, ref, path = served
    cache = tmp_path / "cache" / ref.sha256
    cache.mkdir(parents=True)
    (cache / (ref.filename + ".part")).write_bytes(b"garbage that is not the file")
    original = server.httpd.RequestHandlerClass
    class NoRange(original):  # noqa: E306
        def _serve(self, head):
            if "Range" in self.headers:
                del self.headers["Range"]
            return original._serve(self, head)
    server.httpd.RequestHandlerClass = NoRange
    assert sha256_of(downloader(tmp_path).fetch(ref)) == ref.sha256


FULL_DISK = r"""
import json, os, resource, signal, sys
from envdoctor.upgrade.download import Downloader
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.resolve import WheelRef
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as a full disk fails
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
name, url, sha, cache = sys.argv[1:5]
try:
    Downloader(cache, backoff_s=0.01).fetch(WheelRef("bigpkg", "1.0", url, name, sha, True))
    print(json.dumps({"key": None}))
except UpgradeError as exc:
    print(json.dumps({"key": exc.key, "params": exc.params}))
"""


def test_a_full_cache_disk_is_a_clear_error_and_keeps_no_partial_file(tmp_path, served):
    import json
    import subprocess
    import sys

    _server, ref, _path = served
    cache = str(tmp_path / "cache")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", FULL_DISK, ref.filename, ref.url, ref.sha256, cache],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": repo})
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["key"] == "upgrade.error.cache_full", out.stderr[-2000:]
    left = [f for _d, _s, files in os.walk(cache) for f in files]
    assert left == []
