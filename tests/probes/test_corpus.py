"""The scanner on skeletons of real CUDA libraries from the package index (tests/fixtures/corpus).

Each skeleton is a real torch / cuFFT / cuBLAS / onnxruntime-gpu library with its payloads zeroed
(tools/make_skeleton.py); its JSON records what envdoctor's scanner and cuobjdump said about the
REAL file.  Materialized as a sparse file of the original size, every skeleton must scan to exactly
those counts: registered and embedded, SASS, PTX and the rest.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Dict

import pytest

from envdoctor.cli.main import main
from envdoctor.probes.fatbin import SCANNER_VERSION, scan_entries, scan_file
from tests.support.skeleton import CORPUS, corpus_skeletons, decode, materialize_corpus_binary, provenance

REPO = Path(__file__).resolve().parents[2]
SKELETONS = corpus_skeletons()
IDS = [path.name[: -len(".skel.xz")] for path in SKELETONS]
WHEELS = Path(os.environ.get("ENVDOCTOR_CORPUS_WHEELS", "/work/corpus-wheels"))


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("make_skeleton", REPO / "tools" / "make_skeleton.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record_of(scan: Any) -> Dict[str, Any]:
    record = scan.to_dict()
    for key in ("path", "mtime_ns"):
        record.pop(key)
    return record


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Every skeleton materialized once, each in its own folder under its original file name."""
    root = tmp_path_factory.mktemp("corpus")
    return {identifier: materialize_corpus_binary(path, root / identifier) for identifier, path in
            zip(IDS, SKELETONS)}


def test_the_corpus_is_all_there_and_small() -> None:
    assert sorted(IDS) == sorted(identifier for identifier, _wheel, _member in _tool().CORPUS)
    total = sum(path.stat().st_size for path in CORPUS.iterdir())
    assert total < 10 * 2**20, f"corpus is {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("identifier", IDS)
def test_skeleton_scans_exactly_like_the_real_file(identifier: str, binaries: Dict[str, Path]) -> None:
    path = binaries[identifier]
    expected = provenance(CORPUS / f"{identifier}.skel.xz")
    assert path.stat().st_size == expected["original"]["size"]
    registered_only = dict(expected["scanner"])
    assert registered_only.pop("version") == SCANNER_VERSION, "regenerate the corpus: the scanner changed"
    registered_only = registered_only.pop("registered_only")
    full = {k: v for k, v in expected["scanner"].items() if k not in ("version", "registered_only")}
    assert record_of(scan_file(str(path))) == full
    assert record_of(scan_file(str(path), embedded=False)) == registered_only


def list_elf_name(arch: str) -> str:
    return arch[:-1] if arch.endswith("f") else arch  # --list-elf drops the family "f" of SASS


@pytest.mark.parametrize("identifier", IDS)
def test_registered_counts_agree_with_cuobjdump_on_the_real_file(identifier: str, binaries: Dict[str, Path]) -> None:
    expected = provenance(CORPUS / f"{identifier}.skel.xz")
    listing = expected["cuobjdump"]
    if "skipped" in listing:
        pytest.skip(f"made without cuobjdump: {listing['skipped']}")
    scanner = expected["scanner"]
    # Every distinct (kind, arch, flags), registered or embedded, named as `cuobjdump -elf/-ptx` names it.
    labels = expected["labels"]
    assert labels and all(label["agree"] for label in labels.values()), labels
    if "gave_up" in listing:
        # cuobjdump 13.x stops at some CUDA 12 entries ("Invalid ELF"): what it listed before that
        # must be, in order, the start of what the scanner lists; the scanner reads on.
        _scan, entries = scan_entries(str(binaries[identifier]), embedded=False)
        for kind in ("sass", "ptx"):
            listed = listing["listed_before_giving_up"][kind]
            mine = [list_elf_name(e.arch) if kind == "sass" else e.arch for e in entries if e.kind == kind]
            assert mine[: len(listed)] == listed and len(mine) >= len(listed)
        assert sum(scanner["sass"].values()) > sum(listing["sass"].values())
        return
    sass: Counter = Counter()
    for arch, count in scanner["sass"].items():
        sass[list_elf_name(arch)] += count
    assert dict(sass) == listing["sass"]
    assert scanner["ptx"] == listing["ptx"]


def test_skeleton_entries_sit_where_they_sat_in_the_real_file(binaries: Dict[str, Path]) -> None:
    """Offsets are kept: each entry header the scanner reports is among the skeleton's kept bytes."""
    identifier = "cufft-cu12-11.4.1.4-linux"
    _size, chunks = decode((CORPUS / f"{identifier}.skel.xz").read_bytes())
    starts = [offset for offset, _data in chunks]
    ends = {offset: offset + len(data) for offset, data in chunks}
    import bisect

    _scan, entries = scan_entries(str(binaries[identifier]))
    assert len(entries) == 24454
    for entry in entries:
        start = starts[bisect.bisect_right(starts, entry.offset) - 1]
        assert start <= entry.offset and entry.offset + 0x30 <= ends[start]


# ------------------------------------------------------------------------------------------------
# The acceptance line of issue 11: envdoctor scan on the real cuFFT


@pytest.mark.parametrize("identifier", ["cufft-cu12-11.4.1.4-linux", "cufft-cu12-11.4.1.4-windows",
                                        "cufft-cu13-12.5.0.14-linux", "cufft-cu13-12.5.0.14-windows"])
def test_scan_lists_cufft_sm120_as_embedded_and_judges_it_native(
    identifier: str, binaries: Dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    code = main(["scan", "--json", str(binaries[identifier]), "--cc", "12.0", "--cc", "8.9"])
    result = json.loads(capsys.readouterr().out)
    (binary,) = result["binaries"]
    assert binary["embedded_sass"]["sm_120"] > 400
    assert "sm_120" not in binary["sass"]  # registered: a one-entry stub (or nothing at all in CUDA 13)
    assert binary["registered_coverage"]["12.0"] == "none"  # what cuobjdump's view would conclude
    assert binary["coverage"] == {"8.9": "native", "12.0": "native"}
    assert result["gpus"]["12.0"]["verdict"] == "native" and code == 0


def test_scan_registered_only_sees_what_cuobjdump_sees(binaries: Dict[str, Path], capsys) -> None:
    code = main(["scan", "--json", "--registered-only", str(binaries["cufft-cu12-11.4.1.4-windows"]),
                 "--cc", "12.0"])
    (binary,) = json.loads(capsys.readouterr().out)["binaries"]
    assert binary["sass"] == {"sm_52": 1} and binary["embedded_entries"] == 0 and not binary["searched"]
    assert code == 2


def test_scan_terminal_table_labels_embedded_kernels(binaries: Dict[str, Path], capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    for lang, label in (("en", "embedded:"), ("zh_CN", "内嵌:")):
        assert main(["scan", "--lang", lang, str(binaries["cufft-cu12-11.4.1.4-linux"]), "--cc", "12.0"]) == 0
        out = capsys.readouterr().out
        assert label in out and "sm_120×420" in out


def test_scan_help_says_it_goes_beyond_cuobjdump(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "beyond cuobjdump" in text and "cannot read a Windows DLL" in text and "embedded" in text


# ------------------------------------------------------------------------------------------------
# Regeneration from the real wheel (cuobjdump cannot list a skeleton itself: --list-elf decompresses
# each payload, and the payloads are zeros, so its word is recorded from the real file instead)


@pytest.mark.slow
def test_regenerating_a_skeleton_from_the_real_wheel_gives_the_committed_one(tmp_path: Path) -> None:
    identifier = "torch-2.14.1-cu130-linux-libtorch_cuda_linalg"
    committed = provenance(CORPUS / f"{identifier}.skel.xz")
    wheel = WHEELS / committed["wheel"]["file"]
    if not wheel.is_file():
        pytest.skip(f"{wheel} not in the wheel cache (set ENVDOCTOR_CORPUS_WHEELS; see tools/make_skeleton.py)")
    if shutil.disk_usage(tmp_path).free < 4 * committed["original"]["size"]:
        pytest.skip("not enough disk to unpack the library")
    record = _tool().make(identifier, wheel, committed["member"], tmp_path, oracles=False)
    assert record["wheel"]["sha256"] == committed["wheel"]["sha256"]
    assert record["original"]["sha256"] == committed["original"]["sha256"]
    assert record["scanner"] == committed["scanner"]
    blob = (tmp_path / f"{identifier}.skel.xz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == committed["skeleton"]["sha256"]
    assert blob == (CORPUS / f"{identifier}.skel.xz").read_bytes()


# ------------------------------------------------------------------------------------------------
# What check/doctor get: BinaryCoverageSummary with the embedded counts (issue 11's interface)


def test_scan_binaries_carries_embedded_counts_into_the_facts(tmp_path: Path) -> None:
    from envdoctor.fileio.jsoncache import JsonCache
    from envdoctor.model import Runtime
    from envdoctor.probes.collect import scan_binaries

    site = tmp_path / "runtime" / "Lib" / "site-packages"
    # A Windows bundle: torch ships NVIDIA's cufft64_11.dll in torch\lib beside its own libraries.
    materialize_corpus_binary(CORPUS / "cufft-cu12-11.4.1.4-windows.skel.xz", site / "torch" / "lib")
    materialize_corpus_binary(CORPUS / "onnxruntime-gpu-1.22.0-windows.skel.xz", site / "onnxruntime" / "capi")
    runtime = Runtime(str(tmp_path / "runtime"), str(tmp_path / "runtime" / "python.exe"), "windows-embedded",
                      "windows", "3.11", (str(site),))
    cache = JsonCache(str(tmp_path / "cache"), "facts")
    first = scan_binaries(runtime, str(site / "torch"), cache)
    by_name = {Path(summary.path).name: summary for summary in first}
    cufft = by_name["cufft64_11.dll"]
    assert cufft.sass == {"sm_52": 1} and cufft.ptx == {}
    assert cufft.embedded_sass["sm_120"] == 420 and cufft.embedded_ptx["sm_90"] == 68
    assert cufft.all_sass["sm_120"] == 420 and cufft.all_sass["sm_52"] == 1
    assert by_name["onnxruntime_providers_cuda.dll"].embedded_sass == {}
    assert scan_binaries(runtime, str(site / "torch"), cache) == first  # the cached answer is the same


def test_scan_leaves_a_cufftw_stub_out_of_the_verdict_of_all_binaries(tmp_path, capsys) -> None:
    """libcufftw is a one-entry stub in front of cuFFT's kernels (measured on the GPU machine); a folder
    holding it and a real cuFFT is native on 12.0, not 'none' because of the stub."""
    folder = tmp_path / "nvidia" / "cufft" / "lib"
    materialize_corpus_binary(CORPUS / "cufft-cu12-11.4.1.4-linux.skel.xz", folder)
    stub = Path(__file__).resolve().parents[1] / "fixtures" / "fatbin" / "sm75.so"
    (folder / "libcufftw.so.11").write_bytes(stub.read_bytes())  # an sm_75-only fat binary, like the stub
    code = main(["scan", str(folder), "--cc", "12.0", "--json"])
    out = json.loads(capsys.readouterr().out)
    flags = {p["path"].rsplit("/", 1)[-1]: p["delegated"] for p in out["binaries"]}
    assert flags == {"libcufft.so.11": False, "libcufftw.so.11": True}
    assert out["gpus"]["12.0"]["verdict"] == "native" and code == 0
