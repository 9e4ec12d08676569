"""report.html in a real headless Chromium: it renders the verdict, GPU and findings, and the page
makes no network request (checked in Chromium's own net log, with a control page that does)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Optional

import pytest
from report_machine import Machine

from envdoctor.cli.main import main

SCREENSHOT_DIR = os.environ.get("ENVDOCTOR_SCREENSHOT_DIR")  # set it to keep the PNG for a look


def _browser() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


BROWSER = _browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium on this machine (Debian: apt-get install -y chromium)")


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--disable-default-apps", f"--user-data-dir={profile}",
            # Nothing can resolve: even a page that tried could not reach the internet from a test.
            "--host-resolver-rules=MAP * ~NOTFOUND", *extra, page.as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _page_requests(net_log: Path) -> List[str]:
    """URLs the page itself asked for: requests whose isolation key is the page's file:// site.

    (Chromium's own background requests, if any slip through the flags, are keyed to no site.)"""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event.get("type") == start_job and "file://" in str(event.get("params", {}).get(
                "network_isolation_key", ""))]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: List[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _png_size(path: Path) -> tuple:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_report_html_renders_offline_in_chromium(machine: Machine, tmp_path: Path, capsys) -> None:
    output = tmp_path / "report.zip"
    assert main(["report", "--root", str(machine.root), "--log", str(machine.log), "-o", str(output)]) == 0
    capsys.readouterr()
    page = tmp_path / "report.html"
    with zipfile.ZipFile(output) as archive:
        page.write_bytes(archive.read("report.html"))
    source = page.read_text(encoding="utf-8")
    # Nothing in the page can load anything: no scripts, links, images, frames, CSS urls or imports.
    assert not re.search(r"(?i)<(script|link|img|iframe|object|embed|video|audio|source)\b", source)
    assert not re.search(r"(?i)\b(src|href|srcset|action|poster)\s*=", source)
    assert not re.search(r"(?i)url\(|@import", source)

    # A phone-sized screenshot, with Chromium's net log of everything the page asked for.
    shot = tmp_path / "report.png"
    net_log = tmp_path / "netlog.json"
    done = _chromium(page, tmp_path / "profile-a", f"--screenshot={shot}", "--window-size=412,2400",
                     "--hide-scrollbars", f"--log-net-log={net_log}", "--net-log-capture-mode=Everything")
    assert shot.exists(), done.stderr[-2000:]
    width, height = _png_size(shot)
    assert (width, height) == (412, 2400)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few hundred bytes
    assert _page_requests(net_log) == []
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(SCREENSHOT_DIR) / "report-phone.png")
        shutil.copyfile(page, Path(SCREENSHOT_DIR) / "report.html")

    # The text Chromium rendered (its DOM after loading) holds the verdict, the GPU and the findings.
    dom = _chromium(page, tmp_path / "profile-b", "--dump-dom")
    parser = _Text()
    parser.feed(dom.stdout)
    text = " ".join(" ".join(parser.parts).split())
    assert "Will fail on this GPU" in text
    assert "NVIDIA GeForce RTX 5060 Ti" in text
    # Finding titles lead with the symptom (issue 26.4); the page must hold the catalogue's whole title.
    from envdoctor.i18n import message

    nvrtc = message("en", "finding.nvrtc-too-old.title", gpu="NVIDIA GeForce RTX 5060 Ti", cuda="12.4", arch="sm_120")
    assert f"Most important finding: {nvrtc}" in text, text[:600]
    assert "FP16 inference will abort on NVIDIA GeForce RTX 5060 Ti" in text
    assert "nvrtc-unknown-arch" in text  # the log's error, recognised


def test_the_request_check_catches_a_page_that_loads_something(tmp_path: Path) -> None:
    """Control: the same check, on a page that asks for an image and a stylesheet, finds both."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><p>leak</p><img src="http://leak.invalid/pixel.png">'
                    '<link rel="stylesheet" href="https://cdn.invalid/style.css"></body></html>', encoding="utf-8")
    net_log = tmp_path / "netlog.json"
    _chromium(page, tmp_path / "profile", f"--screenshot={tmp_path / 'leaky.png'}", "--window-size=400,300",
              f"--log-net-log={net_log}", "--net-log-capture-mode=Everything")
    assert sorted(_page_requests(net_log)) == ["http://leak.invalid/pixel.png", "https://cdn.invalid/style.css"]
