"""The NVRTC torch will load decides the NVRTC verdict, not the CUDA version torch was built with.

Real files: tests/fixtures/nvrtc holds, from NVIDIA's wheels (tools/make_nvrtc_fixtures.py), the
skeletons of nvrtc64_120_0.dll 12.8.93 and 12.9.86 (PE headers + the real version resource at its
real offset) and the dist-info folders (METADATA, RECORD...) of nvidia-cuda-nvrtc-cu12 12.8.93 /
12.9.86 and nvidia-cuda-nvrtc 13.0.88; a Linux install is laid out from the wheel's own RECORD.

Expected, from NVIDIA's nvrtcGetSupportedArchs measured on those wheels (matrices/measurements/
nvrtc-12.8.json, nvrtc-12.9.json): 12.8 lacks sm_103 and sm_121, 12.9 has both. torch 2.8.0+cu128
has sm_100 and sm_120 SASS, so a B300 (10.3) and a GB10 (12.1) run its kernels; only NVRTC decides.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.model import Runtime
from envdoctor.probes.nvrtc import find_nvrtc
from envdoctor.probes.peversion import version_strings
from envdoctor.probes.torchfiles import read_distributions
from tests.cli.test_expected_verdicts import CORE, linux_runtime, write_torch_files
from tests.support import skeleton
from tests.support.fatbin_elf import write_pe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nvrtc"
DIST_INFO = {
    "12.8.93": "nvidia_cuda_nvrtc_cu12-12.8.93.dist-info",
    "12.9.86": "nvidia_cuda_nvrtc_cu12-12.9.86.dist-info",
    "13.0.88": "nvidia_cuda_nvrtc-13.0.88.dist-info",
}
DRIVER = "580.65.06@13.0"
GB10, B300 = "NVIDIA GB10@12.1", "NVIDIA B300 SXM6 AC@10.3"


def install_nvrtc_wheel(site: Path, version: str) -> None:
    """Lay out what pip installs from the real wheel: every file its RECORD names (libraries empty:
    their content is never read), the dist-info files as they are."""
    info = FIXTURES / "linux" / DIST_INFO[version]
    for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
        member = line.rsplit(",", 2)[0]
        target = site / member
        target.parent.mkdir(parents=True, exist_ok=True)
        source = info / Path(member).name
        if member.startswith(DIST_INFO[version] + "/") and source.is_file():
            shutil.copyfile(source, target)
        else:
            target.write_bytes(b"")


def uninstall_nvrtc_wheel(site: Path, version: str) -> None:
    info = FIXTURES / "linux" / DIST_INFO[version]
    for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
        (site / line.rsplit(",", 2)[0]).unlink(missing_ok=True)
    shutil.rmtree(site / DIST_INFO[version], ignore_errors=True)


def check(root: Path, gpu: str, capsys, monkeypatch, driver: str = DRIVER) -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", driver)
    code = main(["check", "--root", str(root), "--json", "--no-live", "--lang", "en"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def codes(envelope: dict) -> dict:
    return {f["code"]: f for f in envelope["findings"]}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")


# -- Linux: nvidia-cuda-nvrtc-cu12 beside a cu128 torch ---------------------------------------------

def cu128_linux(tmp_path: Path, nvrtc: str) -> Path:
    root = linux_runtime(tmp_path / "gsv", "2.8.0+cu128")
    install_nvrtc_wheel(root / "runtime" / "lib" / "python3.11" / "site-packages", nvrtc)
    return root


@pytest.mark.parametrize("gpu", [GB10, B300])
def test_nvrtc_12_9_beside_cu128_torch_is_not_blocked(tmp_path: Path, capsys, monkeypatch, gpu: str) -> None:
    envelope = check(cu128_linux(tmp_path, "12.9.86"), gpu, capsys, monkeypatch)
    assert envelope["exit_code"] in (0, 1), [f["code"] for f in envelope["findings"] if f["severity"] == "blocking"]
    assert not {"nvrtc-too-old", "nvrtc-too-old-avoided"} & set(codes(envelope))
    assert envelope["facts"]["torch"]["nvrtc"] == "12.9.86"
    assert "nvidia-cuda-nvrtc-cu12 12.9.86 (dist-info)" in envelope["facts"]["torch"]["nvrtc_source"]


@pytest.mark.parametrize("gpu", [GB10, B300])
def test_nvrtc_12_8_that_cu128_torch_pins_is_still_blocked(tmp_path: Path, capsys, monkeypatch, gpu: str) -> None:
    envelope = check(cu128_linux(tmp_path, "12.8.93"), gpu, capsys, monkeypatch)
    assert envelope["exit_code"] == 2
    finding = codes(envelope)["nvrtc-too-old"]
    assert finding["severity"] == "blocking" and "CUDA 12.8" in finding["title"]
    assert any("NVRTC 12.8.93 read from nvidia-cuda-nvrtc-cu12 12.8.93" in e for e in finding["evidence"])


def test_the_nvrtc_evidence_is_data_and_reads_in_chinese(tmp_path: Path, capsys, monkeypatch) -> None:
    """Evidence lines are keys with parameters (--json's evidence_lines), said in the reader's language
    from those, not English text parsed back."""
    root = cu128_linux(tmp_path, "12.8.93")
    finding = codes(check(root, GB10, capsys, monkeypatch))["nvrtc-too-old"]
    source = "nvidia-cuda-nvrtc-cu12 12.8.93 (dist-info), libnvrtc.so.12"
    said = dict(zip(finding["evidence"], finding["evidence_lines"]))
    assert said[f"NVRTC 12.8.93 read from {source}"] == {
        "key": "line.nvrtc_read", "params": {"version": "12.8.93", "source": source}}
    assert [line for line in said.values() if line is None] == [None]  # the cited source: quoted text
    assert main(["check", "--root", str(root), "--no-live", "-v", "--lang", "zh_CN"]) == 2
    out = " ".join(capsys.readouterr().out.split())  # rich folds long lines
    assert "NVRTC 12.8.93（读取自" in out and "read from" not in out


def test_upgraded_then_downgraded_nvrtc_follows_the_files(tmp_path: Path, capsys, monkeypatch) -> None:
    root = cu128_linux(tmp_path, "12.8.93")
    site = root / "runtime" / "lib" / "python3.11" / "site-packages"
    uninstall_nvrtc_wheel(site, "12.8.93")
    install_nvrtc_wheel(site, "12.9.86")  # what `pip install nvidia-cuda-nvrtc-cu12==12.9.86` leaves
    assert check(root, GB10, capsys, monkeypatch)["exit_code"] in (0, 1)
    uninstall_nvrtc_wheel(site, "12.9.86")
    install_nvrtc_wheel(site, "12.8.93")
    assert check(root, GB10, capsys, monkeypatch)["exit_code"] == 2


def test_cu13_wheel_layout_is_read(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    write_torch_files(site, "2.11.0+cu130", "13.0")
    install_nvrtc_wheel(site, "13.0.88")
    runtime = Runtime(str(tmp_path), str(tmp_path / "python3"), "posix-prefix", "linux", "3.11", (str(site),))
    found = find_nvrtc(runtime, str(site / "torch"), "13.0", read_distributions([str(site)]))
    assert found is not None and found.version == "13.0.88"
    assert found.path.endswith("nvidia/cu13/lib/libnvrtc.so.13")


def test_copied_library_without_dist_info_is_read_from_its_builtins(tmp_path: Path) -> None:
    """A libnvrtc copied by hand (no dist-info, or one of another version): the builtins library it
    opens by name says its version; of several left behind, the oldest is assumed."""
    site = tmp_path / "site-packages"
    write_torch_files(site, "2.8.0+cu128", "12.8")
    install_nvrtc_wheel(site, "12.8.93")
    lib = site / "nvidia" / "cuda_nvrtc" / "lib"
    (lib / "libnvrtc-builtins.so.12.8").unlink()
    (lib / "libnvrtc-builtins.so.12.9").write_bytes(b"")
    runtime = Runtime(str(tmp_path), str(tmp_path / "python3"), "posix-prefix", "linux", "3.11", (str(site),))
    distributions = read_distributions([str(site)])
    found = find_nvrtc(runtime, str(site / "torch"), "12.8", distributions)
    assert (found.version, found.source) == ("12.9", "libnvrtc-builtins.so.12.9 beside libnvrtc.so.12")
    (lib / "libnvrtc-builtins.so.12.8").write_bytes(b"")
    assert find_nvrtc(runtime, str(site / "torch"), "12.8", distributions).version == "12.8.93"


def test_no_nvrtc_files_keeps_torchs_cuda_version(tmp_path: Path, capsys, monkeypatch) -> None:
    envelope = check(linux_runtime(tmp_path / "gsv", "2.8.0+cu128"), GB10, capsys, monkeypatch)
    assert envelope["facts"]["torch"]["nvrtc"] is None
    assert envelope["exit_code"] == 2 and "nvrtc-too-old" in codes(envelope)


# -- Windows: nvrtc64_120_0.dll in torch\lib -------------------------------------------------------

def test_version_resource_of_the_real_dlls() -> None:
    for path in sorted(FIXTURES.glob("nvrtc64_*-windows.skel.xz")):
        recorded = skeleton.provenance(path)["version_strings"]
        with_real_offsets = skeleton.materialize(path, Path(str(path)[:-8] + ".tmp.dll"))
        try:
            assert version_strings(str(with_real_offsets)) == recorded
        finally:
            with_real_offsets.unlink()
        version = path.name.split("-")[1]
        assert recorded["ProductName"] == f"NVIDIA CUDA {version} NVRTC Library"
        assert recorded["FileVersion"] == "6.14.11.9000"  # the same for 12.8 and 12.9: says nothing


def cu128_windows_bundle(root: Path, nvrtc: str) -> Path:
    runtime = root / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "python.exe").write_bytes(b"MZ")
    (runtime / "python311.dll").write_bytes(b"MZ")
    site = runtime / "Lib" / "site-packages"
    write_torch_files(site, "2.8.0+cu128", "12.8")
    lib = site / "torch" / "lib"
    write_pe(lib / "torch_cuda.dll", CORE["2.8.0+cu128"])
    skeleton.materialize(FIXTURES / f"nvrtc64_120_0-{nvrtc}-windows.skel.xz", lib / "nvrtc64_120_0.dll")
    # torch's own builtins stay (the user swapped only nvrtc64_120_0.dll); its name is not the version
    (lib / "nvrtc-builtins64_128.dll").write_bytes(b"MZ")
    return root


def test_swapped_nvrtc_dll_in_windows_bundle(tmp_path: Path, capsys, monkeypatch) -> None:
    envelope = check(cu128_windows_bundle(tmp_path, "12.9.86"), GB10, capsys, monkeypatch, "581.08@13.0")
    assert "nvrtc-too-old" not in codes(envelope), codes(envelope).get("nvrtc-too-old")
    assert envelope["facts"]["torch"]["nvrtc"] == "12.9.86"
    assert "version resource" in envelope["facts"]["torch"]["nvrtc_source"]


def test_bundled_nvrtc_dll_12_8_still_blocks(tmp_path: Path, capsys, monkeypatch) -> None:
    envelope = check(cu128_windows_bundle(tmp_path, "12.8.93"), GB10, capsys, monkeypatch, "581.08@13.0")
    assert envelope["exit_code"] == 2
    finding = codes(envelope)["nvrtc-too-old"]
    assert any("nvrtc64_120_0.dll version resource" in e for e in finding["evidence"])



def test_damaged_or_foreign_dlls_give_no_version(tmp_path: Path) -> None:
    """A DLL cut short, a resource block with a lying length, or no PE at all: no version, no exception."""
    real = skeleton.materialize(FIXTURES / "nvrtc64_120_0-12.9.86-windows.skel.xz", tmp_path / "real.dll")
    data = real.read_bytes()
    start = data.find("VS_VERSION_INFO".encode("utf-16-le")) - 6
    cases = {
        "cut.dll": data[:0x400],  # headers only: the resource section lies past the end
        "lying.dll": data[:start] + b"\xff\xff" + data[start + 2:],  # VS_VERSION_INFO claims 64 KiB
        "text.dll": b"not a PE file at all",
        "empty.dll": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        assert version_strings(str(tmp_path / name)) == {}, name
    (tmp_path / "folder.dll").mkdir()
    assert version_strings(str(tmp_path / "folder.dll")) == {}
