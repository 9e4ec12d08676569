"""Unbounded input: an alias bomb or deep nesting in tts_infer.yaml, a wheel whose METADATA is megabytes.
Each is read within bounds and ends in an answer or a clear error, never a hang or a crash."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from envdoctor.upgrade import zipmeta
from envdoctor.upgrade.download import Downloader
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.finder import links_from_folder
from envdoctor.upgrade.wheelread import Http, WheelReader
from tests.gptsovits.trees import YAML_MAIN, make_tree
from tests.hostile.conftest import snapshot, unchanged

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "upgrade"))
import upgrade_helpers as h  # noqa: E402

GPU = {"ENVDOCTOR_GPUS": "NVIDIA GeForce RTX 5060 Ti@12.0@16311", "ENVDOCTOR_DRIVER": "576.02@12.9"}
YAML = "GPT_SoVITS/configs/tts_infer.yaml"

# 9 levels of 9 aliases: ~400 bytes that a walk of the loaded data sees as 9^9 strings.
BOMB = "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
               for p, n in zip([""] + list("abcdefgh"), "abcdefghi")) + "custom:\n  device: *i\n  is_half: *i\n"
DEEP = "custom:\n  device: " + "[" * 20000 + "]" * 20000 + "\n  is_half: true\n"
DEEP_BLOCK = "custom:\n  is_half: true\n  device:\n" + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(3000)) \
    + "  " * 3002 + "x: 1\n"


YAMLS = {"alias bomb": BOMB, "deep flow nesting": DEEP, "deep block nesting": DEEP_BLOCK}


@pytest.mark.parametrize("kind", sorted(YAMLS))
def test_hostile_tts_infer_yaml(cli, tmp_path, kind) -> None:
    text = YAMLS[kind]
    assert kind != "alias bomb" or len(text) < 600
    root = make_tree(tmp_path / "gsv", "main", yaml_text=text)
    before = snapshot(root)
    shown = cli(f"configure --show, {kind} in tts_infer.yaml", ["configure", "--root", str(root), "--no-live",
                                                                "--show", "--json"], expect="answer", env=GPU,
                timeout=30)
    assert not shown.hung and not shown.crashed, shown.stderr[-2000:]
    assert shown.returncode == 0, shown.stderr[-2000:]
    done = cli(f"configure --yes, {kind} in tts_infer.yaml", ["configure", "--root", str(root), "--no-live", "--yes",
                                                               "--fp16", "off"], env=GPU, timeout=30)
    said = done.stderr
    assert done.clear_error and "tts_infer.yaml" in said and "than any GPT-SoVITS configuration" in said, said[-2000:]
    assert unchanged(f"configure --yes, {kind}", before, snapshot(root))
    out = tmp_path / "report.zip"
    report = cli(f"report, {kind} in tts_infer.yaml", ["report", "--root", str(root), "--no-live", "--no-scan",
                                                       "-o", str(out)], expect="answer", env=GPU, timeout=60)
    assert not report.hung and not report.crashed, report.stderr[-2000:]
    with zipfile.ZipFile(out) as archive:
        settings = json.loads(archive.read("report.json"))
    assert "tts_infer.yaml" in json.dumps(settings)


def test_a_gbk_tts_infer_yaml_is_read_and_written_back_as_gbk(cli, tmp_path) -> None:
    text = YAML_MAIN.replace("custom:\n", "custom:\n  # 半精度设置：显卡不支持时改为 false\n", 1)
    root = make_tree(tmp_path / "gsv", "main", yaml_text=text)
    path = root / YAML
    path.write_bytes(text.encode("gbk"))
    shown = cli("configure --show, GBK tts_infer.yaml", ["configure", "--root", str(root), "--no-live", "--show",
                                                         "--json"], expect="answer", env=GPU)
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["settings"]
    assert any(r["source"] == "yaml" and r["value"] == "true" for r in rows), rows
    done = cli("configure --yes, GBK tts_infer.yaml", ["configure", "--root", str(root), "--no-live", "--yes",
                                                       "--fp16", "off", "--json"], expect="answer", env=GPU)
    assert done.returncode == 0, done.stdout + done.stderr
    written = path.read_bytes()
    assert "半精度设置".encode("gbk") in written and "is_half: false" in written.decode("gbk")


# -- wheels ------------------------------------------------------------------------------------------

def _reader(tmp_path: Path) -> WheelReader:
    return WheelReader(Http(), Downloader(str(tmp_path / "dl")))


@pytest.mark.parametrize("count,said", [(60000, "larger than 256 KiB"), (5000, "5000 requirements")])
def test_a_wheel_whose_metadata_lists_thousands_of_requirements_is_refused(tmp_path, count, said) -> None:
    """60,000 lines is the issue's 1.5 MB METADATA (114 s and 15.8 GB in upgrade --dry-run)."""
    folder = tmp_path / "house"
    h.build_wheel(str(folder), "fakedep", "1.0", {"fakedep/__init__.py": b""},
                  [f"dep{i}>=1" for i in range(count)])
    (link,) = links_from_folder(str(folder))
    with pytest.raises(UpgradeError) as caught:
        _reader(tmp_path).read(link)
    assert caught.value.key == "upgrade.error.bad_wheel" and said in caught.value.params["detail"], \
        caught.value.params


def test_a_long_description_is_not_kept_only_the_headers_are(tmp_path) -> None:
    folder = tmp_path / "house"
    path = h.build_wheel(str(folder), "fakedep", "1.0", {"fakedep/__init__.py": b""}, ["other>=1"])
    _rewrite_metadata(path, b"Metadata-Version: 2.1\nName: fakedep\nVersion: 1.0\nRequires-Dist: other>=1\n\n"
                      + b"A README. " * 150000)
    (link,) = links_from_folder(str(folder))
    info = _reader(tmp_path).read(link)
    assert "Requires-Dist: other>=1" in info.metadata and len(info.metadata) < 1000


def test_a_metadata_member_that_inflates_past_the_cap_is_refused(tmp_path) -> None:
    folder = tmp_path / "house"
    path = h.build_wheel(str(folder), "fakedep", "1.0", {"fakedep/__init__.py": b""})
    _rewrite_metadata(path, b"Metadata-Version: 2.1\nName: fakedep\nVersion: 1.0\n\n" + b"\0" * (64 << 20))
    assert os.path.getsize(path) < 1 << 20
    (link,) = links_from_folder(str(folder))
    with pytest.raises(UpgradeError) as caught:
        _reader(tmp_path).read(link)
    assert "larger than" in caught.value.params["detail"]


def test_remote_member_bytes_are_bounded() -> None:
    import zlib

    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = raw.compress(b"\0" * (32 << 20)) + raw.flush()
    name = b"x.dist-info/METADATA"
    local = zipmeta.LOCAL + b"\0" * 22 + len(name).to_bytes(2, "little") + b"\0\0" + name + body
    member = zipmeta.Member(name.decode(), 8, len(body), 100, 0)  # the directory lies about the size
    data = zipmeta.member_bytes(local, member)
    assert data is not None and len(data) == zipmeta.MAX_MEMBER_BYTES + 1
    with pytest.raises(zipmeta.ZipFormatError):
        zipmeta.check_member_size(member.name, 0, data)


def _rewrite_metadata(path: str, metadata: bytes) -> None:
    with zipfile.ZipFile(path) as archive:
        items = [(i, archive.read(i)) for i in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in items:
            archive.writestr(info.filename, metadata if info.filename.endswith("/METADATA") else data)
