"""zh_CN output is Chinese: no English prose, verdict words or evidence labels reach a zh_CN reader.

Two nets. The catalogue: every English key has a Chinese text, and no Chinese text is English prose.
The renderers: check (four scenarios, verbose; a foreign bundle), doctor, configure (preview, apply,
show, revert), report (Markdown and the terminal summary) and upgrade's refusal are run for real in
zh_CN and their output is searched for English words. What may stay: names (NVIDIA GeForce RTX, torch,
CUDA, file names, code like torch.cuda.is_available()), paths, options and their values (--fp16 off),
text quoted from upstream errors (“...”), cited sources (URLs), and the contents of the user's files
(configure's diffs).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import List

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, write_bundle
from envdoctor.diagnose.rules import ALL_RULES
from envdoctor.doctor.catalog import TEST_NAMES
from envdoctor.i18n import catalogue

# Names and option values; everything else in ASCII letters is English prose that needs a translation.
NAMES = set(re.findall(r"\S+", """
nvidia geforce rtx gtx ti super quadro tesla torch torchaudio torchvision cuda cudnn ptx nvrtc nvml nvcc fp16 fp32
bf16 sdpa gpt sovits webui envdoctor python pip sm jit sass windows linux darwin wsl gb kb mb mib gib ms
check doctor explain scan configure upgrade rollback recover report summarize matrix fix cpu gpu uuid
onnxruntime hubert vits g2pw wheel pytorch https http import class sv custom device version demo pth zip fbank x y n
nvidia-smi nvidia-ml-py onnxruntime-gpu memory-efficient site-packages fatbin cuobjdump
on off auto keep true false
a b c q
ffmpeg torchcodec find-links full-shared longpathsenabled py ctrl
"""))
NAMES |= {code.lower() for rule in ALL_RULES for code in rule.CODES} | {name.lower() for name in TEST_NAMES}

_REMOVE = [
    re.compile(r"“[^”\n]*”|\"[^\"\n]*\"|'[^'\n]*'"),  # quoted: upstream error text, values, names
    re.compile(r"https?://\S*.*$", re.M),  # a cited source (URL and its location text)
    re.compile(r"\S*[/\\]\S*"),  # paths
    re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*(=\S+)?"),  # options
    re.compile(r"[\w-]*[._(\[][\w.()*\[\]-]*"),  # code and file names: torch.cuda.is_available(), tts_infer.yaml
    re.compile(r"\b[\w.+-]*\d[\w.+-]*\b"),  # versions, architectures, numbers: 2.6.0+cu124, sm_120, 12.0
    re.compile(r"\b[A-Z][A-Z0-9]{1,}\b"),  # acronyms and environment names: CUDA, TORCH_CUDA_ARCH_LIST
    re.compile(r"</?\w+>"),  # <br> in Markdown tables
    re.compile(r"^```\w*$", re.M),  # code fences
]


def english_words(text: str) -> List[str]:
    for pattern in _REMOVE:
        text = pattern.sub(" ", text)
    words = re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]", text)
    return sorted({w for w in words if w.lower() not in NAMES})


def without_diffs(text: str) -> str:
    """configure's output less its unified diffs: those show the user's files, whatever their language."""
    kept, in_diff = [], False
    for line in text.splitlines():
        if line.startswith("--- a/") or line.startswith("--- /dev/null"):
            in_diff = True
        elif in_diff and not line.strip():
            in_diff = False
        if not in_diff:
            kept.append(line)
    return "\n".join(kept)


def test_the_detector_sees_english_and_lets_names_pass() -> None:
    assert english_words("结论: will-fail (退出码 2)") == ["will-fail"]
    assert english_words("· driver 576.02 (nvml)") == ["driver"]
    assert english_words("运行 envdoctor configure --fp16 off；NVIDIA GeForce RTX 5060 Ti（sm_120）"
                         "报错“no kernel image is available”，见 C:\\GPT-SoVITS\\go-webui.bat") == []


def test_every_key_is_translated_and_no_translation_is_english() -> None:
    english, chinese = catalogue("en"), catalogue("zh_CN")
    assert sorted(set(english) - set(chinese)) == []  # a missing key would fall back to English
    untranslated = {key: english_words(re.sub(r"\{[^}]*\}", " ", text)) for key, text in chinese.items()}
    assert {key: words for key, words in untranslated.items() if words} == {}


@pytest.fixture
def zh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapped lines: a quote or path cut in two would read as words
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")


def _run(capsys, *argv: str) -> str:
    main([*argv, "--lang", "zh_CN"])
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_check_in_chinese(scenario: str, zh, capsys) -> None:
    out = _run(capsys, "check", "--demo", scenario, "-v")
    assert "结论" in out and english_words(out) == []


def test_a_foreign_bundle_in_chinese(zh, tmp_path: Path, capsys) -> None:
    write_bundle(str(tmp_path / "bundle"), SCENARIOS["rtx5060ti-cu124"])
    for extra in ((), ("--assume-gpu", "NVIDIA GeForce RTX 5060 Ti@12.0", "--assume-driver", "576.02@12.9")):
        out = _run(capsys, "check", "--root", str(tmp_path / "bundle"), "-v", *extra)
        assert "信息来源" in out and english_words(out) == []
    out = _run(capsys, "upgrade", "--root", str(tmp_path / "bundle"))  # refused: a Windows runtime, here
    assert english_words(out) == []


def test_report_in_chinese(zh, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    write_bundle(str(tmp_path / "bundle"), SCENARIOS["rtx5060ti-v2pro"])
    output = tmp_path / "report.zip"
    out = _run(capsys, "report", "--root", str(tmp_path / "bundle"), "--no-live", "-o", str(output))
    with zipfile.ZipFile(output) as archive:
        markdown = archive.read("report.md").decode("utf-8")
        envelope = json.loads(archive.read("report.json"))
    assert envelope["lang"] == "zh_CN"
    # The environment section lists variables as the user set them: names and values, not prose.
    section = markdown.split("## ")
    prose = "## ".join(s for s in section if not s.startswith(("环境变量", "已安装的软件包")))
    assert english_words(out) == [] and english_words(prose) == []


def test_configure_in_chinese(zh, tmp_path: Path, capsys, monkeypatch) -> None:
    from tests.gptsovits.trees import make_tree

    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    root = make_tree(tmp_path / "gsv", "v2pro-2025")
    outputs = [
        _run(capsys, "configure", "--root", str(root), "--no-live"),
        _run(capsys, "configure", "--root", str(root), "--no-live", "--fp16", "off", "--v2pro-sv", "cpu",
             "--launcher-check", "--yes"),
        _run(capsys, "configure", "--root", str(root), "--show"),
        _run(capsys, "configure", "--root", str(root), "--revert"),
    ]
    for out in outputs:
        assert english_words(without_diffs(out)) == [], out


def test_doctor_in_chinese(zh, tmp_path: Path, capsys, monkeypatch) -> None:
    from tests.doctor.conftest import MATRIX
    from tests.doctor.fake_runtime import make_fake_runtime

    python = make_fake_runtime(tmp_path / "venv")
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(MATRIX))
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0@16311")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"fail": {"sdpa-efficient": "abort"}}))
    out = _run(capsys, "doctor", "--python", str(python), "--only", "cuda,sdpa-efficient,elementwise")
    assert "冒烟测试" in out and english_words(out) == []
    # -v: the recommendation's evidence (the tests' results, each GPU's capability) is said in Chinese too.
    monkeypatch.setenv("COLUMNS", "400")
    out = _run(capsys, "doctor", "--python", str(python), "--only", "cuda,sdpa-efficient,elementwise", "-v")
    assert "· sdpa-efficient：已跳过：显卡是模拟的" in out
    assert "显卡 0 NVIDIA GeForce RTX 5060 Ti：12.0（覆盖设置）" in out
    assert "：skipped" not in out and "12.0 (override)" not in out


def _data_lines() -> list:
    """Evidence lines the rules and the doctor build as data (key and parameters), one of each shape."""
    from envdoctor import model as m

    driver = m.driver_line("576.02", "nvml")
    return [
        driver,
        m.torch_cuda_line("2.6.0+cu124", "12.4"),
        m.cuda_targets_line("12.4", "sm_50 sm_60 sm_90"),
        m.coverage_line("scan", "ptx-jit", "sm_50 sm_90 | PTX sm_90"),
        m.source_detail_line("live", "sm_50 sm_60"),
        m.configured_line("is_half=False"),
        m.predicted_line(driver),
        m.predicted_line("https://example.invalid/a-cited-source"),
        m.confirmed_line("sdpa-efficient", "crashed", "SIGABRT"),
        m.known_error_line("fp16-attention-arch-mismatch"),
        m.smoke_result_line("sdpa-efficient", "NVIDIA GeForce RTX 5060 Ti", "crashed", "SIGABRT",
                            "sdpa-fp16-efficient"),
        m.smoke_result_line("cuda", "NVIDIA GeForce RTX 3060", "passed"),
        m.Line("NVRTC 12.4.127 read from nvidia-cuda-nvrtc-cu12 12.4.127", "line.nvrtc_read", version="12.4.127",
               source="nvidia-cuda-nvrtc-cu12 12.4.127"),
        m.Line("GPT-SoVITS is configured not to run this on the GPU (is_half=False): a warning, not a blocker",
               "line.avoided", how="is_half=False"),
        m.Line("sdpa-efficient: passed in 1.2 s", "line.passed_in", test="sdpa-efficient", seconds="1.2"),
        *_device_lines(),
        *_kernel_and_recommend_lines(),
    ]


def _kernel_and_recommend_lines() -> list:
    """Lines of the binaries' kernels (g2pw, other binaries) and of doctor's recommendation, built by the
    code that writes them."""
    from envdoctor.diagnose.kernel_lines import ptx_line, sass_line
    from envdoctor.doctor import recommend
    from envdoctor.model import Finding, Gpu, Severity

    risk = Finding("fp16-attention-abort-risk", Severity.BLOCKING, {"gpu": "RTX 5060 Ti", "arch": "sm_120"})
    label = recommend._Gpu(Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0)), (), ()).label
    return [sass_line(["sm_80", "sm_90"]), ptx_line([]), sass_line(["sm_86"], embedded=True),
            ptx_line([], embedded=True), *recommend._finding_evidence([risk]), label,
            recommend._Gpu(None, (), ()).label]


def _device_lines() -> list:
    """Lines of the GPU choice (CUDA_VISIBLE_DEVICES, the WebUI's GPU 0), the trust rule and the scan."""
    from envdoctor.diagnose import device_choice, trust
    from envdoctor.matrix.views import FactStatus
    from envdoctor.model import Finding, Gpu, Line, Severity

    gpus = [Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0)), Gpu(1, "NVIDIA GeForce RTX 3060", (8, 6))]
    lines = [*device_choice.visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "1"})[1],
             *device_choice.visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "7"})[1],
             *device_choice.visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "MIG-1"})[1],
             device_choice._webui_sees(0, gpus[0]), device_choice._webui_fp32(gpus)]
    fact = FactStatus("cuda.yaml", "toolkits[12.8].sass_archs", False, "primary", True)
    lowered, note = trust.block_or_warn(Finding("nvrtc-too-old", Severity.BLOCKING, {}), [fact])
    return lines + [lowered.evidence[-1], note.evidence[-1],
                    Line("the scan of a core library stopped early: run envdoctor doctor to test the GPU",
                         "line.scan_stopped")]


@pytest.mark.parametrize("line", _data_lines() + [
    # Lines probes write into their facts (read back from caches as plain strings).
    "a windows runtime cannot run on linux",
    "a windows bundle examined on linux: this machine's GPU is not its user's",
    "torch is not installed in this runtime",
    "no answer within 90 s",
    "nvml: 1 GPU(s)",
    "cache: driver files unchanged since the last answer",
    "assumed: --assume-gpu/--assume-driver",
    "bundle-machine: a windows bundle examined on linux: this machine's GPU is not its user's",
    "no GPU",
    "simulated GPUs (ENVDOCTOR_GPUS) cannot run kernels",
], ids=str)
def test_every_line_envdoctor_writes_reads_in_chinese(line: str) -> None:
    from envdoctor.i18n.lines import say

    assert say("en", line) == line  # English (and --json) keep the line as written
    shown = say("zh_CN", line)
    assert shown != line and english_words(shown) == [], shown


def test_evidence_lines_are_said_from_their_key_not_parsed_from_english() -> None:
    """A line whose parameters would not survive a round trip through its English text (a driver
    source with parentheses, a GPU name with a colon) is still said whole in Chinese."""
    from envdoctor import model as m
    from envdoctor.i18n.lines import say

    assert say("zh_CN", m.driver_line("576.02", "nvidia-smi (fallback)")) == "驱动 576.02（nvidia-smi (fallback)）"
    shown = say("zh_CN", m.smoke_result_line("fft-fp32", "GPU: 0", "failed", "", "cufft"))
    assert shown.startswith("冒烟测试 fft-fp32（显卡 GPU: 0）") and "on GPU" not in shown


def test_each_line_is_its_english_message() -> None:
    """A `Line` carries its English text and its key: they must say the same, or --json and a Chinese
    reader would be told two different things."""
    from envdoctor.i18n import message
    from envdoctor.model import Line

    # These two write their optional parts (an exit code in brackets, ", last stage X") in the English text
    # only when present; their catalogue texts leave the parts to the parameters' own wording.
    optional_parts = {"line.confirmed", "line.smoke_result"}
    lines = [line for line in _data_lines() if isinstance(line, Line) and line.key not in optional_parts]
    assert len(lines) > 20
    for line in lines:
        assert message("en", line.key, **line.params) == str(line), line.key


def test_the_probes_reasons_are_said_from_their_keys(monkeypatch) -> None:
    """The live probe's reason and a verify step's are lines the probes write (not English to be parsed):
    with the reader of English shapes switched off, they still read in Chinese."""
    from envdoctor import model as m
    from envdoctor.i18n import lines

    monkeypatch.setattr(lines, "_SHAPES", [])
    reasons = [m.no_torch_line(), m.foreign_runtime_line("windows", "linux"), m.no_answer_line(90.0),
               m.live_background_line(), m.no_gpu_line(), m.simulated_gpus_line(), m.assumed_line(),
               m.probe_attempt_line("nvml", m.gpu_count_line(2)), m.probe_attempt_line("cache", m.gpu_cache_line())]
    for reason in reasons:
        shown = lines.display_params("zh_CN", {"reason": reason})["reason"]
        assert shown == lines.localize_line("zh_CN", reason) == lines.say("zh_CN", reason)
        assert english_words(shown) == [], shown
