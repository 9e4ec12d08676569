"""Make tests/fixtures/nvrtc from NVIDIA's real NVRTC wheels (maintainer tool).

    pip download --no-deps --only-binary=:all: --python-version 3.11 --platform win_amd64 \\
        -d WHEELS nvidia-cuda-nvrtc-cu12==12.9.86 nvidia-cuda-nvrtc-cu12==12.8.93
    pip download --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \\
        -d WHEELS nvidia-cuda-nvrtc-cu12==12.9.86 nvidia-cuda-nvrtc-cu12==12.8.93 nvidia-cuda-nvrtc==13.0.88
    python tools/make_nvrtc_fixtures.py WHEELS

Windows wheels: a skeleton (tests/support/skeleton.py) of nvrtc64_*.dll keeping its PE headers and
its .rsrc section (the version resource, ~1 KB of a 90 MB file), so the test reads the real
resource at its real offset. Linux wheels: the dist-info files as they are (small text) and the
wheel's RECORD, from which the tests lay out the installed files (their content is never read).
Each fixture's provenance (wheel, sha256, member, the strings read from the real file) is in a JSON
beside it. The wheels are not committed.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from envdoctor.probes.peversion import version_strings  # noqa: E402
from tests.support import skeleton  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "nvrtc"


def _pe_chunks(data: bytes) -> list:
    """(offset, bytes) of the PE headers and the .rsrc section's raw data."""
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    sections, optional_size = struct.unpack_from("<HxxxxxxxxxxxxH", data, pe + 6)
    optional = pe + 24
    size_of_headers = struct.unpack_from("<I", data, optional + 60)[0]
    chunks = [(0, data[:size_of_headers])]
    table = optional + optional_size
    for index in range(sections):
        entry = table + 40 * index
        name = data[entry:entry + 8].rstrip(b"\0")
        raw_size, raw_pointer = struct.unpack_from("<II", data, entry + 16)
        if name == b".rsrc":
            chunks.append((raw_pointer, data[raw_pointer:raw_pointer + raw_size]))
    return chunks


def windows(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dll") and "/nvrtc64_" in n and ".alt." not in n)
        data = archive.read(member)
    version = wheel.name.split("-")[1]
    stem = f"{Path(member).stem}-{version}-windows"
    OUT.mkdir(parents=True, exist_ok=True)
    blob = skeleton.encode(len(data), _pe_chunks(data))
    (OUT / f"{stem}.skel.xz").write_bytes(blob)
    real = OUT / f"{stem}.real.tmp"
    real.write_bytes(data)
    try:
        strings = version_strings(str(real))
    finally:
        real.unlink()
    record = {
        "format": skeleton.FORMAT,
        "wheel": {"file": wheel.name, "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
        "member": member,
        "original": {"name": Path(member).name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        "version_strings": strings,
        "kept": "PE headers and the .rsrc section (version resource); everything else reads as zeros",
    }
    (OUT / f"{stem}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def linux(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n.split("/")[0] for n in archive.namelist() if ".dist-info/" in n)
        folder = OUT / "linux" / info
        folder.mkdir(parents=True, exist_ok=True)
        for name in archive.namelist():
            if name.startswith(info + "/") and not name.endswith("License.txt"):
                (folder / Path(name).name).write_bytes(archive.read(name))
    provenance = {"wheel": {"file": wheel.name, "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}}
    (folder / "PROVENANCE.json").write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")


def main(argv: list) -> int:
    wheels = Path(argv[0]) if argv else Path("/tmp/nvrtc-wheels")
    for wheel in sorted(wheels.rglob("nvidia_cuda_nvrtc*.whl")):
        (windows if wheel.name.endswith("win_amd64.whl") else linux)(wheel)
        print("made", wheel.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
