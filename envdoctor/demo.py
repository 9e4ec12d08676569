"""A built-in example: a GPT-SoVITS-style Windows bundle on a simulated GPU, for trying envdoctor
on any machine (no GPU, no bundle needed). The tree is written to a temporary folder and removed."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Iterator, Tuple

from envdoctor.errors import UsageError
from envdoctor.model import Driver, Gpu, GpuFacts, ProbeAttempt


@dataclass(frozen=True)
class Scenario:
    torch: str
    cuda: str
    python_minor: int
    gpu_name: str
    cc: Tuple[int, int]
    memory_mib: int
    driver: str
    driver_cuda: str


SCENARIOS = {
    # The memo's machine: RTX 5060 Ti (Blackwell, sm_120) with the v2pro-20250604 bundle, whose torch is
    # a Windows CUDA 11.8 build (its arch list ends in compute_37, GPT-SoVITS issue #2478; the exact
    # torch release is not documented, 2.4.1 stands in for it).
    "rtx5060ti-v2pro": Scenario("2.4.1+cu118", "11.8", 9, "NVIDIA GeForce RTX 5060 Ti", (12, 0), 16311,
                                "576.02", "12.9"),
    # GPT-SoVITS' CI-built cu124 package on the same card.
    "rtx5060ti-cu124": Scenario("2.6.0+cu124", "12.4", 11, "NVIDIA GeForce RTX 5060 Ti", (12, 0), 16311,
                                "576.02", "12.9"),
    # The same card after the upgrade envdoctor recommends.
    "rtx5060ti-cu128": Scenario("2.7.0+cu128", "12.8", 11, "NVIDIA GeForce RTX 5060 Ti", (12, 0), 16311,
                                "576.02", "12.9"),
    # An Ada card that the old bundle serves well.
    "rtx4060-cu124": Scenario("2.6.0+cu124", "12.4", 11, "NVIDIA GeForce RTX 4060 Ti", (8, 9), 8188,
                              "560.94", "12.6"),
}


def write_bundle(root: str, scenario: Scenario) -> None:
    """runtime/python.exe, python3XX.dll, Lib/site-packages/{torch,torchaudio} with real metadata."""
    runtime = os.path.join(root, "runtime")
    site = os.path.join(runtime, "Lib", "site-packages")
    os.makedirs(os.path.join(site, "torch", "lib"), exist_ok=True)
    for name in ("python.exe", f"python3{scenario.python_minor}.dll"):
        with open(os.path.join(runtime, name), "wb") as handle:
            handle.write(b"MZ")  # a placeholder: the demo never runs the Windows interpreter
    with open(os.path.join(site, "torch", "version.py"), "w", encoding="utf-8") as handle:
        handle.write(
            f"__version__ = '{scenario.torch}'\ndebug = False\ncuda: Optional[str] = '{scenario.cuda}'\n"
            "git_version = 'demo'\nhip = None\n"
        )
    release, _, local = scenario.torch.partition("+")
    for dist, version in (("torch", scenario.torch), ("torchaudio", f"{release}+{local}")):
        info = os.path.join(site, f"{dist}-{version}.dist-info")
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as handle:
            handle.write(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    os.makedirs(os.path.join(root, "GPT_SoVITS", "configs"), exist_ok=True)
    with open(os.path.join(root, "go-webui.bat"), "w", encoding="utf-8", newline="\r\n") as handle:
        handle.write("set \"SCRIPT_DIR=%~dp0\"\ncd /d \"%SCRIPT_DIR%\"\nset \"PATH=%SCRIPT_DIR%\\runtime;%PATH%\"\n"
                     "runtime\\python.exe -I webui.py zh_CN\npause\n")


def demo_gpus(scenario: Scenario) -> GpuFacts:
    gpu = Gpu(0, scenario.gpu_name, scenario.cc, memory_total_mib=scenario.memory_mib, source="demo")
    return GpuFacts((gpu,), Driver(scenario.driver, scenario.driver_cuda, source="demo"),
                    (ProbeAttempt("demo", True, "simulated GPU"),))


@contextlib.contextmanager
def demo_bundle(name: str) -> Iterator[Tuple[str, GpuFacts]]:
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise UsageError("error.demo_unknown", name=name, choices=", ".join(SCENARIOS))
    root = tempfile.mkdtemp(prefix="envdoctor-demo-")
    try:
        write_bundle(root, scenario)
        yield root, demo_gpus(scenario)
    finally:
        shutil.rmtree(root, ignore_errors=True)
