"""Issue 24.1: the verdict is about the GPU GPT-SoVITS will use, as its own config.py picks it.

The runtimes are the expected-verdict table's (torch's real libraries as corpus skeletons, tests/fixtures/
corpus); the GPT-SoVITS folder around them carries a config.py of each generation. Those config.py files
are team-written: they spell the lines that decide the device as upstream does (matrices/gptsovits.yaml
device_selection names the commits), the rest is left out. Where the upstream history is at hand
(ENVDOCTOR_GPTSOVITS_GIT, a clone or bare mirror of RVC-Boss/GPT-SoVITS), the last tests read every
upstream config.py and run its own get_device_dtype_sm against the model for every GPU of gpus.yaml.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import types
import warnings
from pathlib import Path
from typing import Dict, List

import pytest

from envdoctor.cli.main import main
from envdoctor.diagnose import device_choice
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import Gpu
from tests.cli.test_expected_verdicts import DRIVER, linux_runtime

REPO = Path(__file__).resolve().parents[2]

# The device lines of each generation, as upstream spells them (the rest of config.py left out).
CONFIG_2025_06B = '''import re
import torch


def get_device_dtype_sm(idx: int):
    cpu = torch.device("cpu")
    cuda = torch.device(f"cuda:{idx}")
    if not torch.cuda.is_available():
        return cpu, torch.float32, 0.0, 0.0
    capability = torch.cuda.get_device_capability(idx)
    name = torch.cuda.get_device_name(idx)
    mem_bytes = torch.cuda.get_device_properties(idx).total_memory
    mem_gb = mem_bytes / (1024**3) + 0.4
    major, minor = capability
    sm_version = major + minor / 10.0
    is_16_series = bool(re.search(r"16\\d{2}", name)) and sm_version == 7.5
    if mem_gb < 4 or sm_version < 5.3:
        return cpu, torch.float32, 0.0, 0.0
    if sm_version == 6.1 or is_16_series == True:
        return cuda, torch.float32, sm_version, mem_gb
    if sm_version > 6.1:
        return cuda, torch.float16, sm_version, mem_gb
    return cpu, torch.float32, 0.0, 0.0


tmp = [get_device_dtype_sm(i) for i in range(max(torch.cuda.device_count(), 1))]
infer_device = max(tmp, key=lambda x: (x[2], x[3]))[0]
is_half = any(dtype == torch.float16 for _, dtype, _, _ in tmp)
'''
CONFIG_2024 = '''import os
import torch

is_half = os.environ.get("is_half", "True").lower() == "true"
if torch.cuda.is_available():
    infer_device = "cuda"
else:
    infer_device = "cpu"
if infer_device == "cuda":
    gpu_name = torch.cuda.get_device_name(0)
    if "16" in gpu_name and "V100" not in gpu_name.upper() or "1080" in gpu_name:
        is_half = False
'''

GTX_1080 = "NVIDIA GeForce GTX 1080@6.1@8192"
RTX_3060 = "NVIDIA GeForce RTX 3060@8.6@12288"


@pytest.fixture(scope="module")
def runtime_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linux_runtime(tmp_path_factory.mktemp("rt"), "2.14.1+cu130")


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "device-choice-cache"))
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    for name in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(name, raising=False)


def bundle(root: Path, config: str) -> Path:
    """A GPT-SoVITS folder (webui.py, GPT_SoVITS/, config.py) whose runtime/ is the table's real build."""
    (root / "webui.py").write_text("# GPT-SoVITS WebUI\n", encoding="utf-8")
    (root / "GPT_SoVITS").mkdir(exist_ok=True)
    (root / "config.py").write_text(config, encoding="utf-8")
    return root


@pytest.fixture()
def tree(runtime_root: Path, tmp_path: Path):
    def make(config: str) -> Path:
        root = tmp_path / "GPT-SoVITS"
        root.mkdir()
        (root / "runtime").symlink_to(runtime_root / "runtime")
        return bundle(root, config)
    return make


def check(root: Path, gpus: str, capsys, monkeypatch, lang: str = "en") -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpus)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", DRIVER)
    code = main(["check", "--root", str(root), "--json", "--no-live", "--lang", lang])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def codes(envelope: dict) -> Dict[str, List[dict]]:
    out: Dict[str, List[dict]] = {}
    for finding in envelope["findings"]:
        out.setdefault(finding["code"], []).append(finding)
    return out


def test_gtx1080_beside_rtx3060_judges_the_3060(tree, capsys, monkeypatch) -> None:
    """The issue's case: torch 2.14.1 has no sm_61; config.py infers on the 3060 (higher sm), which it covers."""
    envelope = check(tree(CONFIG_2025_06B), f"{GTX_1080};{RTX_3060}", capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] != 2, [f["code"] for f in envelope["findings"] if f["severity"] == "blocking"]
    assert [f["gpu_index"] for f in found["kernels-native"]] == [1]
    assert "no-kernels-for-gpu" not in found and "nvrtc-arch-dropped" not in found
    # the 1080 is offered by the WebUI's GPU-number box: a warning that names the number to keep
    other = found["gpu-other-lacks-kernels"][0]
    assert other["severity"] == "warning" and other["gpu_index"] == 0
    assert "keep the GPU number at 1" in other["fix"]
    by_gpu = {g["index"]: g for g in envelope["gpus"]}
    assert by_gpu[1]["coverage"] == "native" and by_gpu[0]["coverage"] == "unused"


def test_the_plan_targets_the_device_used(tree, capsys, monkeypatch) -> None:
    """The fix does not ask for a build covering the 1080 too (none exists): the 3060 is covered, nothing to do."""
    from envdoctor.check.pipeline import run_check
    from envdoctor.probes.collect import CollectOptions
    from envdoctor.upgrade.plan import UP_TO_DATE, facts_from_report, make_plan

    monkeypatch.setenv("ENVDOCTOR_GPUS", f"{GTX_1080};{RTX_3060}")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", DRIVER)
    report = run_check(CollectOptions(root=str(tree(CONFIG_2025_06B)), live=False))
    matrix = load_matrix(str(REPO / "matrices"), cache=None)
    facts = facts_from_report(report, matrix)
    assert [g.name for g in facts.gpus] == ["NVIDIA GeForce RTX 3060"]
    assert make_plan(facts, matrix).status == UP_TO_DATE


def test_without_a_known_config_every_gpu_is_judged(runtime_root, capsys, monkeypatch) -> None:
    """A bare runtime (no GPT-SoVITS folder): which GPU it will use is not known, so both are judged."""
    envelope = check(runtime_root, f"{GTX_1080};{RTX_3060}", capsys, monkeypatch)
    assert envelope["exit_code"] == 2
    assert {f["gpu_index"] for f in codes(envelope)["no-kernels-for-gpu"]} == {0}


def test_a_2gb_card_covered_by_torch_runs(tree, capsys, monkeypatch) -> None:
    """config.py sends a 2 GB card to the CPU (api.py runs there); the WebUI's inference still uses GPU 0."""
    envelope = check(tree(CONFIG_2025_06B), "NVIDIA GeForce RTX 3050 Laptop GPU@8.6@2048", capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] == 0
    info = found["webui-gpu0-fp32"][0]
    assert info["severity"] == "ok" and "less than 4 GB" in info["detail"] and "CPU" in info["title"]
    assert info["fix"] == ""


def test_a_2gb_card_without_kernels_fails_in_the_webui(tree, capsys, monkeypatch) -> None:
    """GTX 1050 2 GB (sm_61) on torch 2.14.1: config.py says CPU, but the WebUI's inference process gets
    CUDA_VISIBLE_DEVICES=0 and uses "cuda" (webui.py, inference_webui.py), where torch has no kernel."""
    envelope = check(tree(CONFIG_2025_06B), "NVIDIA GeForce GTX 1050@6.1@2048", capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] == 2 and "no-kernels-for-gpu" in found
    assert "webui-gpu0-fp32" in found
    assert "fp16-attention-abort-risk" not in found  # FP32 there


def test_cuda_visible_devices_empty_runs_on_the_cpu(tree, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    root = tree(CONFIG_2025_06B)
    envelope = check(root, GTX_1080, capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] == 1, [f["code"] for f in envelope["findings"] if f["severity"] != "ok"]
    cpu = found["runs-on-cpu"][0]
    assert cpu["severity"] == "warning" and "much slower" in cpu["title"] and "CUDA_VISIBLE_DEVICES" in cpu["detail"]
    assert found["gpu-not-used"][0]["gpu_index"] == 0
    zh = check(root, GTX_1080, capsys, monkeypatch, lang="zh_CN")
    assert "CPU 上运行" in codes(zh)["runs-on-cpu"][0]["title"]


def test_cuda_visible_devices_picks_the_covered_gpu(tree, capsys, monkeypatch) -> None:
    """Only the 3060 (index 0 here) visible: the 1080 is not judged."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    envelope = check(tree(CONFIG_2024), f"{RTX_3060};{GTX_1080}", capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] == 0, [f["code"] for f in envelope["findings"] if f["severity"] != "ok"]
    assert found["gpu-not-used"][0]["gpu_index"] == 1 and "CUDA_VISIBLE_DEVICES" in found["gpu-not-used"][0]["detail"]


def test_first_visible_generation_uses_device_0(tree, capsys, monkeypatch) -> None:
    """The 2024 config.py (v2-240821, v2pro-20250604 bundles) runs on CUDA device 0: in PCI order the 1080."""
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    envelope = check(tree(CONFIG_2024), f"{GTX_1080};{RTX_3060}", capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] == 2 and [f["gpu_index"] for f in found["no-kernels-for-gpu"]] == [0]
    assert found["gpu-not-used"][0]["gpu_index"] == 1


def test_first_visible_without_pci_order_judges_both(tree, capsys, monkeypatch) -> None:
    """CUDA's default order puts the fastest GPU first: which one is device 0 is not known, so both count."""
    envelope = check(tree(CONFIG_2024), f"{RTX_3060};{GTX_1080}", capsys, monkeypatch)
    assert envelope["exit_code"] == 2
    assert {f["gpu_index"] for f in codes(envelope)["no-kernels-for-gpu"]} == {1}


# -- the model against upstream's own code ------------------------------------------------------------

def _upstream() -> str:
    git = os.environ.get("ENVDOCTOR_GPTSOVITS_GIT", "/work/.mirror/RVC-Boss+GPT-SoVITS/repo")
    if not os.path.isdir(git):
        pytest.skip("no GPT-SoVITS history here (set ENVDOCTOR_GPTSOVITS_GIT to a clone or bare mirror)")
    return git


def _config_at(git: str, commit: str) -> str:
    return subprocess.run(["git", "--git-dir", git, "show", f"{commit}:config.py"], capture_output=True,
                          text=True, check=True).stdout


def test_every_upstream_config_is_told_apart() -> None:
    from envdoctor.probes.gptsovits_config import _WORDS

    git = _upstream()
    known = device_choice.generations(load_matrix(str(REPO / "matrices"), cache=None).gptsovits["device_selection"])
    expected = {"7d70852": "per-gpu-2025-06b", "6fdc67c": "per-gpu-2025-06b", "05d4421": "per-gpu-2025-06a",
                "2ff2cf5": "first-visible-2024", "53cac93": "first-visible-2024", "84ee471": "first-visible-2024",
                "56516fe": None}
    for commit, generation in expected.items():
        lines = [line.strip() for line in _config_at(git, commit).splitlines() if any(w in line for w in _WORDS)]
        found = device_choice.detect(lines, known)
        assert (found.name if found else None) == generation, commit


class _FakeCuda:
    def __init__(self, cc, name, mib):
        self.cc, self.name, self.mib = cc, name, mib

    def is_available(self):
        return True

    def get_device_capability(self, idx):
        return self.cc

    def get_device_name(self, idx):
        return self.name

    def get_device_properties(self, idx):
        return types.SimpleNamespace(total_memory=self.mib * 1024 * 1024)


@pytest.mark.parametrize("commit,rule", [("6fdc67c", device_choice.RULE_2025_06B),
                                         ("05d4421", device_choice.RULE_2025_06A)])
def test_model_matches_upstream_get_device_dtype_sm(commit: str, rule: str) -> None:
    """upstream's own function, run on a stand-in torch.cuda for every GPU row of gpus.yaml at 2, 4 and 8 GB."""
    import yaml

    source = _config_at(_upstream(), commit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # upstream's "16\d{2}" in a plain string
        tree = ast.parse(source)
    function = next(n for n in tree.body
                    if isinstance(n, ast.FunctionDef) and n.name == "get_device_dtype_sm")
    function.returns = None
    for arg in function.args.args:
        arg.annotation = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        code = compile(ast.Module([function], []), "config.py", "exec")
    rows = yaml.safe_load((REPO / "matrices" / "gpus.yaml").read_text(encoding="utf-8"))["gpus"]
    for row in rows:
        cc = tuple(int(p) for p in str(row["compute_capability"]).split("."))
        name = str((row.get("examples") or [row["match"]])[0])
        for mib in (2048, 3686, 4096, 8192):
            torch = types.SimpleNamespace(device=lambda spec: spec, float16="fp16", float32="fp32",
                                          cuda=_FakeCuda(cc, name, mib))
            space = {"torch": torch, "re": re}
            exec(code, space)
            device, dtype, _, _ = space["get_device_dtype_sm"](0)
            use, _, _ = device_choice._per_gpu(Gpu(0, name, cc, memory_total_mib=mib), cc, rule)
            assert use.usable == (device != "cpu"), (commit, name, cc, mib)
            assert use.fp16 == (dtype == "fp16"), (commit, name, cc, mib)


def test_the_webui_replaces_cuda_visible_devices(tree, capsys, monkeypatch) -> None:
    """CUDA_VISIBLE_DEVICES=1 shows config.py only the 3060, as its GPU 0; the WebUI then starts inference with
    CUDA_VISIBLE_DEVICES=0 (the number it chose), which names physical GPU 0, the 1080: both are judged."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    envelope = check(tree(CONFIG_2025_06B), f"{GTX_1080};{RTX_3060}", capsys, monkeypatch)
    found = codes(envelope)
    assert envelope["exit_code"] == 2
    assert {f["gpu_index"] for f in found["no-kernels-for-gpu"]} == {0}
    assert [f["gpu_index"] for f in found["kernels-native"]] == [1]
    said = found["webui-sees-other-gpu"][0]
    assert said["gpu_index"] == 0 and "GTX 1080" in said["title"] and "RTX 3060" in said["title"]
    assert any("webui: its inference process sees GPU 0" in line for line in said["evidence"])


def test_visible_devices_parsing() -> None:
    """CUDA's rules: order of the list, stop at the first entry it cannot resolve, UUID prefixes; MIG names and
    UUIDs that facts without UUIDs (ENVDOCTOR_GPUS) cannot match leave every GPU judged."""
    a = Gpu(0, "A", (8, 6), uuid="GPU-aaaa-1111")
    b = Gpu(1, "B", (8, 9), uuid="GPU-bbbb-2222")
    seen = lambda value, gpus=(a, b): device_choice.visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": value})[0]  # noqa: E731
    assert seen("1,0") == (b, a)
    assert seen("1,7,0") == (b,)  # 7 does not exist: CUDA ignores the rest
    assert seen("") == () and seen("GPU-bbbb") == (b,) and seen("GPU-") == ()  # "GPU-" is ambiguous
    assert seen("MIG-1234") == (a, b)
    plain = (Gpu(0, "A", (8, 6)), Gpu(1, "B", (8, 9)))
    assert seen("GPU-bbbb", plain) == plain
    assert device_choice.visible_gpus((a, b), {})[0] == (a, b)
