"""`configure --g2pw cpu`: G2PW's onnxruntime session made on the CPU, in the real upstream file.

The upstream files are GPT_SoVITS/text/g2pw/onnx_api.py at ba8de9b (main: `if "CUDAExecutionProvider"
in onnxruntime.get_available_providers()`) and 53cac93 (2025-04: try/except around a CUDA session),
copied unchanged into tests/fixtures/upstream. The patched module is imported for real with a stand-in
`onnxruntime` that records the providers each session is made with (no GPU, no onnxruntime here), and
upstream's own session-creation code (cut from the same file) runs in the module's namespace.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import sys
import textwrap
import types
from pathlib import Path
from typing import Dict, List

import pytest

from envdoctor.cli.main import main
from envdoctor.gptsovits.layout import G2PW_PY
from tests.gptsovits.conftest import configure

UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
VERSIONS = {"ba8de9b": "f18917fb2bfa60fe901f88ee58c6f73242d36ddfb0bdd734780afd02e1481485",
            "53cac93": "ea014db9b8420966004baf3a4d621be2a7d809bb096772a3ef42d151934b67e5"}
MIRROR = Path("/work/.mirror/RVC-Boss+GPT-SoVITS/repo")


def with_g2pw(root: Path, version: str) -> Path:
    target = root / G2PW_PY
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(UPSTREAM / f"onnx_api.{version}.upstream", target)
    return target


def test_fixtures_are_the_upstream_bytes() -> None:
    for version, digest in VERSIONS.items():
        assert hashlib.sha256((UPSTREAM / f"onnx_api.{version}.upstream").read_bytes()).hexdigest() == digest
    if MIRROR.is_dir():  # where the mirror is at hand, compare with git itself
        import subprocess

        for version in VERSIONS:
            shown = subprocess.run(["git", "--git-dir", str(MIRROR), "show", f"{version}:{G2PW_PY}"],
                                   capture_output=True, check=True).stdout
            assert shown == (UPSTREAM / f"onnx_api.{version}.upstream").read_bytes()


# -- running the patched module with a stand-in onnxruntime -------------------------------------------

def _standin_onnxruntime(calls: List[Dict]) -> types.ModuleType:
    ort = types.ModuleType("onnxruntime")

    class SessionOptions:
        pass

    class InferenceSession:
        def __init__(self, path, sess_options=None, providers=None, **kwargs):
            calls.append({"path": str(path), "providers": list(providers or [])})
            self.providers = list(providers or [])

    ort.SessionOptions = SessionOptions
    ort.InferenceSession = InferenceSession
    ort.GraphOptimizationLevel = types.SimpleNamespace(ORT_ENABLE_ALL=99)
    ort.ExecutionMode = types.SimpleNamespace(ORT_SEQUENTIAL=0)
    ort.get_available_providers = lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    ort.set_default_logger_severity = lambda level: None
    ort.preload_dlls = lambda: None
    return ort


def _stub(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = []  # a package, so relative imports below it resolve
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def import_patched(path: Path, monkeypatch: pytest.MonkeyPatch, calls: List[Dict]) -> types.ModuleType:
    """Import the real (patched) onnx_api.py as GPT_SoVITS.text.g2pw.onnx_api with stand-ins for what
    it imports besides numpy and os (onnxruntime, opencc, pypinyin, transformers, its siblings)."""
    noop = lambda *a, **k: None  # noqa: E731
    stubs = {
        "onnxruntime": _standin_onnxruntime(calls),
        "opencc": _stub("opencc", OpenCC=noop),
        "pypinyin": _stub("pypinyin", Style=types.SimpleNamespace(TONE3=1), pinyin=noop),
        "transformers": _stub("transformers", AutoTokenizer=noop),
        "transformers.models": _stub("transformers.models"),
        "transformers.models.auto": _stub("transformers.models.auto"),
        "transformers.models.auto.tokenization_auto": _stub("tokenization_auto", AutoTokenizer=noop),
        "requests": _stub("requests"),
        "torch": _stub("torch"),
        "GPT_SoVITS": _stub("GPT_SoVITS"),
        "GPT_SoVITS.text": _stub("GPT_SoVITS.text"),
        "GPT_SoVITS.text.zh_normalization": _stub("GPT_SoVITS.text.zh_normalization"),
        "GPT_SoVITS.text.zh_normalization.char_convert": _stub("char_convert", tranditional_to_simplified=noop),
        "GPT_SoVITS.text.g2pw": _stub("GPT_SoVITS.text.g2pw"),
        "GPT_SoVITS.text.g2pw.dataset": _stub("dataset", get_char_phoneme_labels=noop, get_phoneme_labels=noop,
                                              prepare_onnx_input=noop),
        "GPT_SoVITS.text.g2pw.utils": _stub("utils", load_config=noop),
    }
    for name, module in stubs.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("GPT_SoVITS.text.g2pw.onnx_api", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def upstream_session_code(text: str) -> str:
    """Upstream's own statement that makes G2PW's session (either style), dedented to run on its own."""
    match = (re.search(r"\n( +)if \"CUDAExecutionProvider\" in onnxruntime\.get_available_providers\(\):\n.*?"
                       r"providers=\[\"CPUExecutionProvider\"\],\n +\)\n", text, re.S)
             or re.search(r"\n( +)try:\n +self\.session_g2pW = .*?providers=\[\"CPUExecutionProvider\"\],\n +\)\n",
                          text, re.S))
    assert match, "upstream's session code not found"
    return textwrap.dedent(match.group(0).lstrip("\n"))


def run_upstream_session(module: types.ModuleType, text: str) -> None:
    namespace = dict(vars(module), self=types.SimpleNamespace(), sess_options=None, onnx_path="g2pW.onnx",
                     uncompress_path=".")
    exec(compile(upstream_session_code(text), "onnx_api.py", "exec"), namespace)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_g2pw_cpu_makes_upstreams_session_on_the_cpu_and_revert_is_byte_exact(
        version, tree, capsys, monkeypatch) -> None:
    root = tree("main")
    target = with_g2pw(root, version)
    original = target.read_bytes()

    # Unpatched, upstream asks for the CUDA provider (the stand-in offers it, as onnxruntime-gpu does).
    calls: List[Dict] = []
    run_upstream_session(import_patched(target, monkeypatch, calls), original.decode("utf-8"))
    assert calls[0]["providers"][0] == "CUDAExecutionProvider"

    preview = configure(root, "--g2pw", "cpu", "--fp16", "off", "--v2pro-sv", "on", "--arch-list", "off",
                        capsys=capsys)
    assert target.read_bytes() == original  # a preview writes nothing
    diff = next(c["diff"] for c in preview["changes"] if c["file"] == G2PW_PY)
    assert '+if os.environ.get("GPT_SOVITS_G2PW_DEVICE", "cpu")' in diff
    applied = configure(root, "--g2pw", "cpu", "--fp16", "off", "--v2pro-sv", "on", "--arch-list", "off", "--yes",
                        capsys=capsys)
    assert applied["_code"] == 0 and applied["settings"]["g2pw"] == "cpu"
    assert any(n["key"] == "configure.note.g2pw_cpu" for n in applied["notes"])
    assert any(n["key"] == "configure.note.patch" and n["params"]["file"] == G2PW_PY for n in applied["notes"])

    patched = target.read_text(encoding="utf-8")
    calls = []
    run_upstream_session(import_patched(target, monkeypatch, calls), patched)
    assert calls == [{"path": "g2pW.onnx" if version == "ba8de9b" else "./g2pW.onnx",
                      "providers": ["CPUExecutionProvider"]}]
    # The environment still chooses for one run: cuda gives upstream's behaviour back.
    monkeypatch.setenv("GPT_SOVITS_G2PW_DEVICE", "cuda")
    calls = []
    run_upstream_session(import_patched(target, monkeypatch, calls), patched)
    assert calls[0]["providers"][0] == "CUDAExecutionProvider"
    monkeypatch.delenv("GPT_SOVITS_G2PW_DEVICE")

    # Applying again changes nothing; --show says where the value comes from.
    again = configure(root, "--g2pw", "cpu", "--yes", capsys=capsys)
    assert "changes" in again, again
    assert not [c for c in again["changes"] if c["file"] == G2PW_PY]
    shown = configure(root, "--show", capsys=capsys)
    assert {"setting": "g2pw", "value": "cpu", "source": "patch", "file": G2PW_PY, "applies_to": "all"} \
        in shown["settings"]

    reverted = configure(root, "--revert", capsys=capsys)
    assert G2PW_PY in reverted["restored"]
    assert target.read_bytes() == original


def test_g2pw_on_removes_the_block_byte_for_byte(tree, capsys) -> None:
    root = tree("main")
    target = with_g2pw(root, "ba8de9b")
    original = target.read_bytes()
    configure(root, "--g2pw", "cpu", "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    assert target.read_bytes() != original
    configure(root, "--g2pw", "on", "--yes", capsys=capsys)
    assert target.read_bytes() == original


def test_unknown_g2pw_file_is_refused_and_left_alone(tree, capsys) -> None:
    root = tree("main")
    target = with_g2pw(root, "ba8de9b")
    changed = target.read_bytes().replace(b"import numpy as np\nimport onnxruntime\n",
                                          b"import onnxruntime\nimport numpy as np\n")
    target.write_bytes(changed)
    envelope = configure(root, "--g2pw", "cpu", "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    assert envelope["_code"] == 1
    assert any(r["key"] == "configure.refuse.anchor_g2pw" for r in envelope["refusals"])
    assert target.read_bytes() == changed


# -- check and fix's choice A on a bundle whose onnxruntime-gpu has no kernel for the GPU ---------------

def bundle(root: Path, build: str = "2.14.1+cu130") -> Path:
    from tests.cli.test_expected_verdicts import corpus_library, linux_runtime

    shutil.rmtree(root / "runtime", ignore_errors=True)  # the tree's stand-in runtime: replaced by a real layout
    linux_runtime(root, build)
    site = root / "runtime" / "lib" / "python3.11" / "site-packages"
    provider = corpus_library("onnxruntime-gpu-1.31.1-linux", site / "onnxruntime" / "capi",
                              "libonnxruntime_providers_cuda.so")
    if provider is None:
        pytest.skip("the corpus skeleton of onnxruntime-gpu 1.31.1 is not here")
    info = site / "onnxruntime_gpu-1.31.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: onnxruntime-gpu\nVersion: 1.31.1\n")
    return root


def check(root: Path, gpu: str, capsys, monkeypatch) -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "580.65.06@13.0")
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    code = main(["check", "--root", str(root), "--json", "--no-live", "--lang", "en"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def codes(envelope: dict) -> dict:
    return {f["code"]: f for f in envelope["findings"]}


@pytest.mark.parametrize("gpu", ["NVIDIA B200@10.0", "NVIDIA GB10@12.1"])
def test_check_blocks_chinese_synthesis_and_names_the_cpu_switch(tree, capsys, monkeypatch, gpu) -> None:
    root = bundle(tree("main"))
    with_g2pw(root, "ba8de9b")
    envelope = check(root, gpu, capsys, monkeypatch)
    finding = codes(envelope)["g2pw-no-kernels"]
    assert envelope["exit_code"] == 2 and finding["severity"] == "blocking"
    assert "Chinese synthesis will fail" in finding["title"]
    assert "configure --g2pw cpu" in finding["fix"] and "upgrade" not in finding["fix"].lower()
    assert "extension-lacks-kernels" not in codes(envelope)  # no "upgrade to a build" that does not exist
    # configure's auto follows the check; then the check sees G2PW on the CPU and no longer blocks on it.
    applied = configure(root, "--g2pw", "auto", "--fp16", "auto", "--v2pro-sv", "auto", "--arch-list", "off",
                        "--yes", capsys=capsys)
    assert applied["settings"]["g2pw"] == "cpu" and applied["settings"]["g2pw_source"] == "doctor"
    after = check(root, gpu, capsys, monkeypatch)
    assert "g2pw-no-kernels" not in codes(after) and codes(after)["g2pw-on-cpu"]["severity"] == "ok"
    assert after["exit_code"] in (0, 1), [f["code"] for f in after["findings"] if f["severity"] == "blocking"]


def test_a_provider_that_cannot_load_only_warns(tree, capsys, monkeypatch) -> None:
    """onnxruntime-gpu 1.31.1 (CUDA 13) next to a cu128 torch finds no CUDA 13 libraries: onnxruntime
    falls back to the CPU, so the missing kernel is a warning, not a failure."""
    root = bundle(tree("main"), "2.8.0+cu128")
    envelope = check(root, "NVIDIA B200@10.0", capsys, monkeypatch)
    assert codes(envelope)["g2pw-no-kernels"]["severity"] == "warning"


def test_fix_choice_a_includes_g2pw_on_the_cpu() -> None:
    from envdoctor.fix.choices import diagnosis_from, workaround_choice
    from envdoctor.i18n import message

    check_envelope = {"verdict": "will-fail", "findings": [
        {"code": "g2pw-no-kernels", "severity": "blocking", "title": "t", "fix": "f"}]}
    configure_envelope = {"exit_code": 0, "settings": {"g2pw": "cpu", "fp16": None, "v2pro_sv": None},
                          "changes": [{"file": G2PW_PY}]}
    choice = workaround_choice(diagnosis_from(check_envelope, 2), configure_envelope,
                               lambda key, **p: message("en", key, **p))
    assert choice.available and choice.resolves, choice
    assert any("G2PW" in g for g in choice.gives)
