"""A built-in example: a GPT-SoVITS-style Windows bundle on a simulated GPU, for trying envdoctor
on any machine (no GPU, no bundle needed). The tree is written to a temporary folder and removed."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Dict, Iterator, Tuple

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


# The few GPT-SoVITS files `configure` and `fix` read, as the v2pro-20250604 bundle has them: config.py
# takes is_half from the environment; sv.py holds class SV exactly as that release spells it (CRLF).
DEMO_WEBUI = "# envdoctor demo: stands in for GPT-SoVITS' webui.py (the demo never starts the WebUI)\n"
DEMO_CONFIG = (
    "# envdoctor demo: the part of GPT-SoVITS' config.py (v2pro-20250604) that decides half precision\n"
    "import os\nimport sys\n\n"
    'is_half_str = os.environ.get("is_half", "True")\n'
    'is_half = True if is_half_str.lower() == "true" else False\n'
    'python_exec = sys.executable or "python"\n'
)
DEMO_SV_HEADER = (
    "# envdoctor demo: GPT_SoVITS/sv.py of the v2pro-20250604 bundle (class SV as that release has it)\n"
    "import torch\n\nsv_path = \"GPT_SoVITS/pretrained_models/sv/pretrained_eres2netv2w24s4ep4.ckpt\"\n\n\n"
)
DEMO_TTS_YAML = (
    "custom:\n  device: cuda\n  is_half: true\n  version: v2Pro\n"
    "v2Pro:\n  device: cpu\n  is_half: false\n  version: v2Pro\n"
)


def write_app(root: str) -> None:
    """The GPT-SoVITS side of the demo bundle, for `fix --demo` (configure needs webui.py, GPT_SoVITS/,
    config.py and sv.py to offer its workarounds)."""
    from envdoctor.gptsovits.patches import SV_ANCHORS  # start-up: `check --demo` never writes the app

    files = {
        "webui.py": DEMO_WEBUI.encode("utf-8"),
        "config.py": DEMO_CONFIG.encode("utf-8"),
        os.path.join("GPT_SoVITS", "sv.py"): (DEMO_SV_HEADER + SV_ANCHORS[0].text).replace("\n", "\r\n").encode(),
        os.path.join("GPT_SoVITS", "configs", "tts_infer.yaml"): DEMO_TTS_YAML.encode("utf-8"),
    }
    for relative, data in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def demo_environ(scenario: Scenario) -> Dict[str, str]:
    """The simulated GPU and driver in the form envdoctor's own child processes read them."""
    major, minor = scenario.cc
    return {"ENVDOCTOR_GPUS": f"{scenario.gpu_name}@{major}.{minor}@{scenario.memory_mib}",
            "ENVDOCTOR_DRIVER": f"{scenario.driver}@{scenario.driver_cuda}"}


def scenario_named(name: str) -> Scenario:
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise UsageError("error.demo_unknown", name=name, choices=", ".join(SCENARIOS))
    return scenario


def demo_gpus(scenario: Scenario) -> GpuFacts:
    gpu = Gpu(0, scenario.gpu_name, scenario.cc, memory_total_mib=scenario.memory_mib, source="demo")
    return GpuFacts((gpu,), Driver(scenario.driver, scenario.driver_cuda, source="demo"),
                    (ProbeAttempt("demo", True, "simulated GPU"),))


@contextlib.contextmanager
def demo_bundle(name: str, app: bool = False) -> Iterator[Tuple[str, GpuFacts]]:
    """The named scenario's bundle in a temporary folder (with the GPT-SoVITS files when APP), removed after."""
    scenario = scenario_named(name)
    root = tempfile.mkdtemp(prefix="envdoctor-demo-")
    try:
        write_bundle(root, scenario)
        if app:
            write_app(root)
        yield root, demo_gpus(scenario)
    finally:
        shutil.rmtree(root, ignore_errors=True)
