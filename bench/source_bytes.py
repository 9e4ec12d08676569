"""Benchmark: bytes an upgrade transfers per kind of wheel source, against the wheels' own size.

An upgrade reads each wheel's metadata twice (the dry run, then the run's own plan: two processes that
share only the download cache) and downloads each wheel once. This script does exactly that with
envdoctor's own Finder, WheelReader and Downloader (one fresh instance per phase, one cache), against a
real HTTP server on 127.0.0.1 serving real wheels in three layouts:

  hashed index   PEP 503 pages with #sha256= (Range answered): metadata by range requests
  range flat     one flat page, no hashes, Range answered (`python -m http.server` does not; nginx does)
  flat page      one flat page, no hashes, Range ignored (a helper's `python -m http.server`)

and prints, per layout, the bytes of wheel files served (metadata reads + downloads) divided by the
wheels' total size. 1.00x means each byte crossed once; before issue 28 item 6 the flat page cost 3x.

  python bench/source_bytes.py [--wheel PATH ...] [--count N]

Without --wheel it takes N (default 6) real wheels from /opt/pypi/files or /opt/wheels (the largest
pure-Python ones up to 5 MB), else builds synthetic ones. Measured here (6 real wheels, 21.1 MB; the
same script on the code before the change, same run of the machine): hashed index 1.06x (before 1.06x),
range flat 1.06x (1.06x), flat page 1.00x (3.00x). The 6% is the two 64 KB zip-tail reads per wheel,
small next to a real torch wheel (under 0.1% of 900 MB).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "upgrade"))

import upgrade_helpers as h  # noqa: E402

from envdoctor.upgrade.download import Downloader  # noqa: E402
from envdoctor.upgrade.finder import Finder  # noqa: E402
from envdoctor.upgrade.resolve import WheelRef  # noqa: E402
from envdoctor.upgrade.sources import Source  # noqa: E402
from envdoctor.upgrade.wheelread import Http, WheelReader  # noqa: E402

SEARCH = ("/opt/pypi/files", "/opt/wheels")


def pick_wheels(count: int, work: str) -> list:
    found = []
    for folder in SEARCH:
        for path in glob.glob(os.path.join(folder, "*-py3-none-any.whl")):
            size = os.path.getsize(path)
            if 200_000 <= size <= 5_000_000:
                found.append((size, path))
    chosen, projects = [], set()
    for _size, path in sorted(found, reverse=True):
        project = os.path.basename(path).split("-")[0].lower()
        if project not in projects:
            projects.add(project)
            chosen.append(path)
        if len(chosen) == count:
            return chosen
    # no real wheels here: synthetic ones of the same kind (incompressible payload, real metadata)
    return [h.build_wheel(work, f"benchpkg{i}", "1.0", {f"benchpkg{i}/blob.bin": os.urandom(1 << 20)})
            for i in range(count)]


def one_phase(source: Source, cache: str, projects: list) -> list:
    """What one process's plan does: find each project's wheel and read its metadata (torch would also
    read torch/version.py; these wheels have no such member, which costs the same range requests)."""
    http = Http()
    downloader = Downloader(cache)
    reader = WheelReader(http, downloader)
    finder = Finder(source, http)
    refs = []
    for project in projects:
        link = finder.links(project)[0]
        info = reader.read(link, ("torch/version.py",))
        _name, version, _tags = link.parsed
        refs.append(WheelRef(project, str(version), link.url, link.filename, reader.hash_of(link), True,
                             size=info.size, unhashed_ok=link.origin == "find-links" and not link.sha256))
    return refs


def measure(paths: list, kind: str, work: str) -> float:
    ranges = kind != "flat page"
    projects = [os.path.basename(p).split("-")[0].replace("_", "-").lower() for p in paths]
    with h.IndexServer(paths, ranges=ranges) as server:
        source = Source(server.url) if kind == "hashed index" else Source(None, None, (server.flat_url,))
        cache = tempfile.mkdtemp(prefix="cache-", dir=work)
        one_phase(source, cache, projects)  # the dry run
        refs = one_phase(source, cache, projects)  # the run's own plan
        downloader = Downloader(cache)
        for ref in refs:
            downloader.fetch(ref)
        served = sum(server.wheel_bytes_served(os.path.basename(p)) for p in paths)
    total = sum(os.path.getsize(p) for p in paths)
    return served / total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", action="append", default=[], help="a wheel to serve (repeatable)")
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envdoctor-bench-") as work:
        paths = args.wheel or pick_wheels(args.count, work)
        total = sum(os.path.getsize(p) for p in paths)
        print(f"{len(paths)} wheels, {total / 1e6:.1f} MB")
        for kind in ("hashed index", "range flat", "flat page"):
            ratio = measure(paths, kind, work)
            print(f"{kind:13s} {ratio:5.2f}x the wheels' size (dry run + run: metadata twice, download once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
