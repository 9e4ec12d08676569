"""GPU/driver sources: parsers on real captured text, NVML through a stand-in at its interface,
and the order in which sources are asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.model import Driver, Gpu, GpuFacts
from envdoctor.probes import driverfiles, nvidia_smi
from envdoctor.probes.gpus import OverrideError, detect_gpus, parse_override
from envdoctor.probes.interface import SourceUnavailable
from envdoctor.probes.nvml import NvmlSource, cuda_version_from_int
from envdoctor.probes.runner import RunResult

CAPTURED = Path(__file__).resolve().parent.parent / "fixtures" / "captured"


def test_proc_version_parsed_from_real_open_kernel_module_text() -> None:
    text = (CAPTURED / "proc_version.txt").read_text()
    assert driverfiles.parse_proc_version(text) == "580.159.04"


def test_proc_version_parsed_from_proprietary_module_format() -> None:
    # The proprietary module's first line has no "Open" and no "for".
    text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    assert driverfiles.parse_proc_version(text) == "535.104.05"


def test_sys_version_and_gpu_information_from_real_files() -> None:
    assert driverfiles.parse_sys_version((CAPTURED / "sys_version.txt").read_text()) == "580.159.04"
    fields = driverfiles.parse_gpu_information((CAPTURED / "gpu_information.txt").read_text())
    assert fields["Model"] == "NVIDIA H200"
    assert fields["GPU UUID"].startswith("GPU-")


def test_driver_files_source_reads_a_sysfs_tree(tmp_path: Path) -> None:
    (tmp_path / "sys/module/nvidia").mkdir(parents=True)
    (tmp_path / "sys/module/nvidia/version").write_text((CAPTURED / "sys_version.txt").read_text())
    gpu_dir = tmp_path / "proc/driver/nvidia/gpus/0000:00:06.0"
    gpu_dir.mkdir(parents=True)
    (gpu_dir / "information").write_text((CAPTURED / "gpu_information.txt").read_text())
    facts = driverfiles.DriverFilesSource(str(tmp_path)).read()
    assert facts.driver.version == "580.159.04"
    assert [g.name for g in facts.gpus] == ["NVIDIA H200"]
    assert facts.gpus[0].compute_capability is None  # the files do not say; NVML or nvidia-smi must


def test_driver_files_absent_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable):
        driverfiles.DriverFilesSource(str(tmp_path)).read()


def test_nvidia_smi_query_parsed_from_real_output() -> None:
    gpus, driver = nvidia_smi.parse_query_csv((CAPTURED / "smi_query.csv").read_text())
    assert driver == "580.159.04"
    assert gpus[0].name == "NVIDIA H200"
    assert gpus[0].compute_capability == (9, 0)
    assert gpus[0].memory_total_mib == 143771


class _ScriptedRunner:
    def __init__(self, results):
        self.results = list(results)
        self.calls = []

    def run(self, argv, timeout, env=None, cwd=None, stdin_text=None):
        self.calls.append(list(argv))
        return self.results.pop(0)


def test_nvidia_smi_retries_without_compute_cap_on_old_drivers() -> None:
    old = RunResult((), 6, 'Field "compute_cap" is not a valid field to query.\n', "", 0.01)
    ok = RunResult((), 0, "0, NVIDIA GeForce GTX 1080, GPU-abc, 8192, 470.82.01\n", "", 0.01)
    runner = _ScriptedRunner([old, ok])
    facts = nvidia_smi.NvidiaSmiSource(runner, executable="nvidia-smi").read()
    assert "compute_cap" not in runner.calls[1][1]
    assert facts.driver.version == "470.82.01"
    assert facts.gpus[0].compute_capability is None


class FakeNvml:
    """Stands in for the pynvml module: same function names, scripted answers."""

    class NVMLError(Exception):
        pass

    def __init__(self, devices, driver="576.02", cuda=12090, init_error=None):
        self.devices = devices
        self.driver = driver
        self.cuda = cuda
        self.init_error = init_error
        self.shutdown_called = False

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdown_called = True

    def nvmlSystemGetDriverVersion(self):
        return self.driver.encode()  # old bindings return bytes

    def nvmlSystemGetCudaDriverVersion(self):
        return self.cuda

    def nvmlDeviceGetCount(self):
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.devices[index]

    def nvmlDeviceGetName(self, handle):
        return handle["name"]

    def nvmlDeviceGetUUID(self, handle):
        return handle["uuid"]

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return handle["cc"]

    def nvmlDeviceGetMemoryInfo(self, handle):
        if "memory" not in handle:
            raise self.NVMLError("Not Supported")

        class Info:
            total = handle["memory"] * 1024 * 1024

        return Info()


def test_nvml_source_reads_every_device() -> None:
    nvml = FakeNvml([
        {"name": "NVIDIA GeForce RTX 5060 Ti", "uuid": "GPU-1", "cc": (12, 0), "memory": 16311},
        {"name": "NVIDIA GeForce RTX 3060", "uuid": "GPU-2", "cc": (8, 6)},
    ])
    facts = NvmlSource(nvml).read()
    assert facts.driver == Driver("576.02", "12.9", source="nvml")
    assert [(g.index, g.compute_capability, g.memory_total_mib) for g in facts.gpus] == [
        (0, (12, 0), 16311), (1, (8, 6), None)]
    assert nvml.shutdown_called


def test_nvml_init_failure_is_unavailable_not_a_crash() -> None:
    with pytest.raises(SourceUnavailable, match="Driver Not Loaded"):
        NvmlSource(FakeNvml([], init_error="Driver Not Loaded")).read()


def test_cuda_version_encoding() -> None:
    assert cuda_version_from_int(12090) == "12.9"
    assert cuda_version_from_int(13000) == "13.0"


class _Source:
    def __init__(self, name, facts=None, error=None):
        self.name, self.facts, self.error = name, facts, error

    def read(self):
        if self.error:
            raise self.error
        return self.facts


def test_detection_falls_back_in_order_and_logs_each_attempt() -> None:
    files = GpuFacts((Gpu(0, "NVIDIA H200", None, source="driver-files"),), Driver("580.159.04", None, "driver-files"))
    smi = GpuFacts((Gpu(0, "NVIDIA H200", (9, 0), source="nvidia-smi"),), Driver("580.159.04", None, "nvidia-smi"))
    facts = detect_gpus(
        [_Source("nvml", error=SourceUnavailable("no libnvidia-ml")), _Source("driver-files", files),
         _Source("nvidia-smi", smi)],
        environ={},
    )
    assert facts.gpus[0].compute_capability == (9, 0)
    assert facts.driver.source == "driver-files"  # the earlier source's driver fact is kept, with its origin
    assert [(a.source, a.ok) for a in facts.attempts] == [("nvml", False), ("driver-files", True),
                                                          ("nvidia-smi", True)]


def test_no_driver_anywhere_is_a_normal_state() -> None:
    facts = detect_gpus([_Source("nvml", error=SourceUnavailable("x")), _Source("other", error=RuntimeError("boom"))],
                        environ={})
    assert facts.gpus == () and facts.driver is None
    assert "RuntimeError: boom" in facts.attempts[1].detail


def test_override_wins_over_every_source() -> None:
    facts = detect_gpus([_Source("nvml", error=AssertionError("must not be asked"))],
                        environ={"ENVDOCTOR_GPUS": "NVIDIA GeForce RTX 5060 Ti@12.0@16311;RTX 3060@8.6",
                                 "ENVDOCTOR_DRIVER": "576.02@12.9"})
    assert [(g.name, g.compute_capability) for g in facts.gpus] == [("NVIDIA GeForce RTX 5060 Ti", (12, 0)),
                                                                    ("RTX 3060", (8, 6))]
    assert facts.driver == Driver("576.02", "12.9", "override")


@pytest.mark.parametrize("text", ["RTX 5090", "RTX 5090@twelve", "RTX@12.0@lots"])
def test_bad_override_is_rejected(text: str) -> None:
    with pytest.raises(OverrideError):
        parse_override(text, "576.02")


def test_override_without_driver_is_rejected() -> None:
    with pytest.raises(OverrideError, match="ENVDOCTOR_DRIVER"):
        parse_override("RTX 5090@12.0", None)
    assert parse_override("none", None).gpus == ()


def _driver_tree(root: Path, version_text: str, uuid: str) -> None:
    proc = root / "proc/driver/nvidia"
    (proc / "gpus/0000:00:06.0").mkdir(parents=True, exist_ok=True)
    (proc / "version").write_text(version_text)
    info = (CAPTURED / "gpu_information.txt").read_text().replace("GPU-818109b4", uuid)
    (proc / "gpus/0000:00:06.0/information").write_text(info)


class _Counting:
    name = "nvml"

    def __init__(self, facts):
        self.facts, self.calls = facts, 0

    def read(self):
        self.calls += 1
        return self.facts


def test_nvml_answer_is_reused_while_the_driver_files_are_unchanged(tmp_path: Path) -> None:
    from envdoctor.fileio.jsoncache import JsonCache
    from envdoctor.probes.driverfiles import driver_fingerprint

    _driver_tree(tmp_path, (CAPTURED / "proc_version.txt").read_text(), "GPU-818109b4")
    cache = JsonCache(tmp_path / "cache", "gpus")
    nvml = _Counting(GpuFacts((Gpu(0, "NVIDIA H200", (9, 0), "GPU-1", 143771, "nvml"),),
                              Driver("580.159.04", "13.0", "nvml")))
    first = detect_gpus([nvml], environ={}, cache=cache, fingerprint=driver_fingerprint(str(tmp_path)))
    second = detect_gpus([nvml], environ={}, cache=cache, fingerprint=driver_fingerprint(str(tmp_path)))
    assert nvml.calls == 1
    assert second.gpus == first.gpus and second.driver == first.driver
    assert second.attempts[0].source == "cache"
    # A driver update (or another card) changes the files: NVML is asked again.
    _driver_tree(tmp_path, (CAPTURED / "proc_version.txt").read_text().replace("580.159.04", "590.10.01"),
                 "GPU-818109b4")
    detect_gpus([nvml], environ={}, cache=cache, fingerprint=driver_fingerprint(str(tmp_path)))
    assert nvml.calls == 2
    _driver_tree(tmp_path, (CAPTURED / "proc_version.txt").read_text(), "GPU-aaaaaaaa")
    detect_gpus([nvml], environ={}, cache=cache, fingerprint=driver_fingerprint(str(tmp_path)))
    assert nvml.calls == 3


def test_the_cached_answer_keeps_its_lines_as_data(tmp_path: Path) -> None:
    """The attempts' lines ("1 GPU(s)") come back from the cache as lines with their keys, so a reader in
    another language is told them from the catalogue, not by parsing the English back."""
    from envdoctor.fileio.jsoncache import JsonCache
    from envdoctor.model import Line
    from envdoctor.probes.driverfiles import driver_fingerprint

    _driver_tree(tmp_path, (CAPTURED / "proc_version.txt").read_text(), "GPU-818109b4")
    cache = JsonCache(tmp_path / "cache", "gpus")
    nvml = _Counting(GpuFacts((Gpu(0, "NVIDIA H200", (9, 0), "GPU-1", 143771, "nvml"),),
                              Driver("580.159.04", "13.0", "nvml")))
    detect_gpus([nvml], environ={}, cache=cache, fingerprint=driver_fingerprint(str(tmp_path)))
    again = detect_gpus([nvml], environ={}, cache=cache, fingerprint=driver_fingerprint(str(tmp_path)))
    assert nvml.calls == 1
    details = {a.source: a.detail for a in again.attempts}
    assert isinstance(details["cache"], Line) and details["cache"].key == "line.gpu_cache"
    assert isinstance(details["nvml"], Line) and (details["nvml"].key, details["nvml"].params) == (
        "line.gpu_count", {"count": 1})
    assert details["nvml"] == "1 GPU(s)"


def test_no_driver_files_means_no_fingerprint_and_no_cache(tmp_path: Path) -> None:
    from envdoctor.probes.driverfiles import driver_fingerprint

    assert driver_fingerprint(str(tmp_path)) is None
