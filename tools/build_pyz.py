"""Build envdoctor.pyz: one file a bundle user drops next to go-webui.bat and runs with
`runtime\\python.exe envdoctor.pyz check` — nothing is installed into the runtime.

The zipapp holds envdoctor, its matrices and pure-Python copies of its dependencies, so it runs on
any CPython 3.9+ on Windows or Linux. Two ways to gather the dependencies:

  --download (default)  pip downloads pure-Python wheels made for Python 3.9 from the configured
                        package index (PyYAML has none: its pure `yaml` package is taken from a
                        platform wheel, without the C accelerator). Use this for releases.
  --from-installed      copy the dependencies installed in the running interpreter, leaving out
                        compiled extensions (PyYAML, charset-normalizer fall back to pure Python).
                        Offline; the result targets this interpreter's Python version.

    python tools/build_pyz.py [-o envdoctor.pyz] [--from-installed]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import tempfile
import zipapp
import zipfile
from pathlib import Path
from typing import Iterable, List, Set

REPO = Path(__file__).resolve().parent.parent
BOOTSTRAP = Path(__file__).resolve().parent / "pyz_bootstrap.py"
# pyproject's runtime dependencies less pip-api: no envdoctor module imports it, and it would bring all
# of pip (about 560 files, 16 MB unpacked) into the zip, whose directory Python reads on every start.
DEPENDENCIES = ["nvidia-ml-py", "packaging", "rich", "requests", "PyYAML"]
COMPILED = (".so", ".pyd", ".dylib", ".dll")
TARGET_PYTHON = "3.9"


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]


def installed_closure(names: Iterable[str]) -> List[metadata.Distribution]:
    """The installed distributions `names` need, transitively (extras and markers ignored: more is fine)."""
    seen: Set[str] = set()
    found: List[metadata.Distribution] = []
    queue = list(names)
    while queue:
        name = queue.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another Python version
        found.append(dist)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                queue.append(_requirement_name(requirement))
    return found


def copy_installed(target: Path) -> None:
    for dist in installed_closure(DEPENDENCIES + ["typing_extensions"]):
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if not parts or parts[0].endswith((".dist-info", ".egg-info")) or parts[0] in ("..", "bin"):
                continue
            if str(file).endswith(COMPILED) or "__pycache__" in parts:
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                destination = target / Path(*parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


def download_pure(target: Path, work: Path) -> None:
    wheels = work / "wheels"
    pure = [name for name in DEPENDENCIES if name != "PyYAML"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", TARGET_PYTHON,
         "--implementation", "py", "--abi", "none", "--platform", "any", "-d", str(wheels), *pure, "typing_extensions"],
        check=True,
    )
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                top = member.split("/", 1)[0]
                if not top.endswith((".dist-info", ".data")):
                    archive.extract(member, target)
    # PyYAML publishes no pure wheel; its `yaml` package is pure Python in every wheel (the C
    # accelerator is the separate `_yaml` module), so any platform's wheel serves.
    platform_wheels = work / "pyyaml"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", TARGET_PYTHON, "--platform", "manylinux2014_x86_64", "-d",
                    str(platform_wheels), "PyYAML"], check=True)
    with zipfile.ZipFile(next(platform_wheels.glob("*.whl"))) as archive:
        for member in archive.namelist():
            if member.startswith("yaml/") and member.endswith(".py"):
                archive.extract(member, target)


def copy_envdoctor(target: Path) -> None:
    shutil.copytree(REPO / "envdoctor", target / "envdoctor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "matrices", target / "envdoctor" / "matrices")


def payload_id(target: Path) -> str:
    """sha256 over every file's relative path and bytes (and the bootstrap): the name of the folder the
    pyz unpacks into, so a changed pyz never runs another build's unpacked files, and the hash its
    unpacked files are checked against before anything runs from them."""
    digest = hashlib.sha256(BOOTSTRAP.read_bytes())
    # In the order of the relative paths as strings: the bootstrap recomputes this over the unpacked
    # files (pyz_bootstrap.payload_digest) before it runs from them.
    files = sorted((p.relative_to(target).as_posix(), p) for p in target.rglob("*") if p.is_file())
    for relative, path in files:
        digest.update(relative.encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def bootstrap_source(build_id: str) -> bytes:
    source = BOOTSTRAP.read_bytes()
    placeholder = b'BUILD_ID = "@BUILD_ID@"'
    if placeholder not in source:
        raise SystemExit(f"{BOOTSTRAP} lost its build-id placeholder")
    return source.replace(placeholder, f'BUILD_ID = "{build_id}"'.encode("ascii"), 1)


def build(output: Path, from_installed: bool) -> Path:
    with tempfile.TemporaryDirectory(prefix="envdoctor-pyz-") as work_dir:
        work = Path(work_dir)
        target = work / "app"
        target.mkdir()
        if from_installed:
            copy_installed(target)
        else:
            download_pure(target, work)
        copy_envdoctor(target)
        # Our own __main__ (tools/pyz_bootstrap.py): it refuses Pythons older than 3.9 plainly, runs
        # envdoctor from a once-unpacked copy with bytecode, and passes main()'s return value on as the
        # exit code, which is what a launcher script acts on.
        (target / "__main__.py").write_bytes(bootstrap_source(payload_id(target)))
        leftovers = [p for p in target.rglob("*") if p.suffix in COMPILED]
        if leftovers:
            raise SystemExit(f"compiled files would make the zipapp platform-specific: {leftovers[:3]}")
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp_output = output.with_suffix(".pyz.tmp")
        zipapp.create_archive(target, tmp_output, interpreter="/usr/bin/env python3", compressed=True)
        tmp_output.replace(output)
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the envdoctor.pyz zipapp.")
    parser.add_argument("-o", "--output", default=str(REPO / "envdoctor.pyz"))
    parser.add_argument("--from-installed", action="store_true", help="offline: copy this interpreter's packages")
    args = parser.parse_args()
    path = build(Path(args.output), args.from_installed)
    print(f"built {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
