"""A stalled or dropped transfer is retried and said ('retrying'), in the plan's metadata reads as in the
download (issue 28, minors). Real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import os
import threading
import time

import upgrade_helpers as h

from envdoctor.upgrade.download import Downloader, sha256_of
from envdoctor.upgrade.resolve import WheelRef
from envdoctor.upgrade.wheelread import Http


class _Stalling(http.server.BaseHTTPRequestHandler):
    """The first GET stalls past the client's timeout; the next ones answer."""

    protocol_version = "HTTP/1.1"
    calls = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            time.sleep(1.5)
        body = b'<a href="x-1.0-py3-none-any.whl#sha256=00">x-1.0-py3-none-any.whl</a>'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


def test_a_stalled_page_during_the_plan_is_retried_and_said():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    said = []
    try:
        http_ = Http(timeout_s=0.5, backoff_s=0.01, on_retry=lambda key, params: said.append((key, params)))
        text = http_.get_text(f"http://127.0.0.1:{server.server_address[1]}/simple/x/")
    finally:
        server.shutdown()
        server.server_close()
    assert "x-1.0-py3-none-any.whl" in text
    assert [k for k, _p in said] == ["upgrade.retrying"] and said[0][1]["attempt"] == 1


def test_a_dropped_download_says_it_retries(tmp_path):
    path = h.build_wheel(str(tmp_path / "w"), "bigpkg", "1.0", {"bigpkg/blob.bin": os.urandom(2 << 20)})
    said = []
    with h.IndexServer([path]) as server:
        name = os.path.basename(path)
        server.drop_after[name] = (1 << 19, 1)
        ref = WheelRef("bigpkg", "1.0", server.file_url(name), name, sha256_of(path), True)
        d = Downloader(str(tmp_path / "cache"), backoff_s=0.01, on_retry=lambda key, params: said.append(key))
        assert sha256_of(d.fetch(ref)) == ref.sha256
    assert said == ["upgrade.retrying"]


class _Counting(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: a page and one file; remembers each client connection (its port)."""

    protocol_version = "HTTP/1.1"
    ports: set = set()
    files: dict = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).ports.add(self.client_address[1])
        body = self.files.get(self.path, b'<a href="/files/x">x</a>')
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_metadata_reads_and_the_download_share_one_session(tmp_path):
    """One session (httpsession): the plan's page read and the wheel's download reuse one connection, with
    one timeout and retry policy."""
    path = h.build_wheel(str(tmp_path / "w"), "onepkg", "1.0", {"onepkg/__init__.py": b""})
    name = os.path.basename(path)
    with open(path, "rb") as handle:
        _Counting.files = {f"/files/{name}": handle.read()}
    _Counting.ports = set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        http_, downloader = Http(), Downloader(str(tmp_path / "cache"))
        assert "/files/x" in http_.get_text(f"{base}/simple/onepkg/")
        ref = WheelRef("onepkg", "1.0", f"{base}/files/{name}", name, sha256_of(path), True)
        assert sha256_of(downloader.fetch(ref)) == ref.sha256
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Counting.ports) == 1, _Counting.ports
    assert (http_.timeout_s, http_.retries, http_.backoff_s) == (downloader.timeout_s, downloader.retries,
                                                                 downloader.backoff_s)
