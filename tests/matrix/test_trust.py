"""No false blocker: a verdict may block only on verified matrix facts (issue 12).

The real `envdoctor check` runs on the built-in demo bundle (the memo's RTX 5060 Ti with a Windows
cu118 torch): with the shipped matrix it blocks (exit 2) on verified facts; with the same matrix
where the facts it rests on are marked unverified it must only warn (exit 1) and say why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from envdoctor.cli.main import main
from envdoctor.errors import MatrixError
from envdoctor.matrix.loader import load_matrix

REPO = Path(__file__).resolve().parents[2]
MATRICES = REPO / "matrices"


def _check_demo(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, matrix_dir: Path) -> dict:
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(matrix_dir))
    code = main(["check", "--demo", "rtx5060ti-v2pro", "--json", "--lang", "en"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def _unverify(matrix_dir: Path, file: str, edit) -> None:
    path = matrix_dir / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
def matrix_copy(tmp_path: Path) -> Path:
    target = tmp_path / "matrices"
    shutil.copytree(MATRICES, target)
    return target


def _by_code(envelope: dict) -> dict:
    found: dict = {}
    for finding in envelope["findings"]:
        found.setdefault(finding["code"], []).append(finding)
    return found


def test_the_demo_blocks_on_verified_facts(capsys, monkeypatch) -> None:
    envelope = _check_demo(capsys, monkeypatch, MATRICES)
    findings = _by_code(envelope)
    assert envelope["exit_code"] == 2
    assert findings["nvrtc-too-old"][0]["severity"] == "blocking"
    assert "blocker-unverified" not in findings


def test_an_unverified_fact_cannot_block(capsys, monkeypatch, matrix_copy: Path) -> None:
    def toolkit_archs_unverified(data: dict) -> None:
        row = next(t for t in data["toolkits"] if t["version"] == "11.8")
        row["archs_verified"] = False

    def variant_unverified(data: dict) -> None:
        series = next(s for s in data["series"] if s["series"] == "2.4")
        next(v for v in series["variants"] if v["name"] == "cu118")["verified"] = False

    _unverify(matrix_copy, "cuda.yaml", toolkit_archs_unverified)
    _unverify(matrix_copy, "torch.yaml", variant_unverified)
    envelope = _check_demo(capsys, monkeypatch, matrix_copy)
    findings = _by_code(envelope)

    assert envelope["exit_code"] == 1  # a warning, not "will fail"
    assert all(f["severity"] != "blocking" for f in envelope["findings"])
    # The findings keep their code and say which fact they rest on ...
    nvrtc = findings["nvrtc-too-old"][0]
    assert nvrtc["severity"] == "warning"
    assert "cuda.yaml toolkits[11.8].sass_archs" in nvrtc["params"]["unverified_fact"]
    fp16 = findings["fp16-attention-abort-risk"][0]
    assert fp16["severity"] == "warning"
    assert "torch.yaml series[2.4].variants[cu118]" in fp16["params"]["unverified_fact"]
    # ... and a companion finding tells the user, in words, that the fact is unverified.
    notes = {f["params"]["finding"]: f for f in findings["blocker-unverified"]}
    assert set(notes) == {"nvrtc-too-old", "fp16-attention-abort-risk"}
    assert "unverified" in notes["nvrtc-too-old"]["title"].lower() or "not" in notes["nvrtc-too-old"]["title"]


def test_the_lowered_blocker_speaks_chinese_too(capsys, monkeypatch, matrix_copy: Path) -> None:
    _unverify(matrix_copy, "cuda.yaml",
              lambda d: next(t for t in d["toolkits"] if t["version"] == "11.8").update(archs_verified=False))
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(matrix_copy))
    code = main(["check", "--demo", "rtx5060ti-v2pro", "--lang", "zh_CN"])
    out = capsys.readouterr().out
    assert code == 2  # the fp16 blocker still rests on a verified arch list
    # The lowered finding is named by its symptom, never by its code (issue 26: no internals).
    assert "尚未核实" in out and "v2Pro 音色在" in out and "nvrtc-too-old" not in out


def test_verified_true_needs_a_primary_source_or_a_kept_measurement(matrix_copy: Path) -> None:
    path = matrix_copy / "gpus.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "  - {match: 'Imaginary 9000', compute_capability: '13.0', "
                           "source: 'a blog post', verified: true}\n", encoding="utf-8")
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy), cache=None)
    assert error.value.params["field"].endswith(".verified")
    assert "secondary" in error.value.params["detail"]


def test_a_measurement_without_its_record_is_rejected(matrix_copy: Path) -> None:
    (matrix_copy / "measurements" / "nvrtc-12.8.json").unlink()
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy), cache=None)
    assert "nvrtc-12.8.json" in error.value.params["detail"]
    assert error.value.params["file"].endswith("cuda.yaml")


def test_a_primary_source_needs_what_it_says(matrix_copy: Path) -> None:
    path = matrix_copy / "gpus.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  - {match: 'Imaginary 9000', compute_capability: '13.0', "
                    "source: {kind: primary, url: 'https://example.invalid/x'}, verified: true}\n", encoding="utf-8")
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy), cache=None)
    assert "says" in error.value.params["detail"]


def test_every_measurement_record_backs_what_the_matrix_says() -> None:
    """Each kept record agrees with the row that cites it (SASS always; PTX where the row claims it)."""
    matrix = load_matrix(str(MATRICES), cache=None)
    records = sorted((MATRICES / "measurements").glob("*.json"))
    assert len([r for r in records if r.name.startswith("torch-")]) >= 3
    assert any(r.name.startswith("onnxruntime-gpu-") for r in records)
    for record_path in records:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        assert record["schema"] == "envdoctor.matrix-measurement"
        if record["kind"] == "nvrtc":
            assert record["supported_archs"] == list(matrix.toolkit(record["version"]).sass_archs), record_path.name
        elif record["package"] == "torch":
            variant = matrix.series_of(record["version"]).variant(record["claim"]["ref"].split("[")[-1].rstrip("]"))
            assert record["arch_list"]["sass"] == list(variant.archs[record["platform"]].sass), record_path.name
        elif record["package"] == "onnxruntime-gpu":
            claimed = matrix.onnxruntime_gpu(record["version"])["archs"][record["platform"]]
            assert record["arch_list"]["sass"] == claimed["sass"], record_path.name
            assert record["arch_list"]["ptx"] == claimed["ptx"], record_path.name
        elif record["package"] == "torchaudio":
            major = matrix.torchaudio_cuda_major(record["version"])
            assert f"libcudart.so.{major}" in record["linked_cuda_libraries"], record_path.name
            routed = record["grep"]["return load_with_torchcodec("] == ["torchaudio/__init__.py"]
            assert routed == (matrix.audio_io(record["version"])["backend"] == "torchcodec"), record_path.name


def test_a_cached_matrix_is_validated_again_when_a_record_goes_missing(matrix_copy: Path, tmp_path: Path) -> None:
    from envdoctor.fileio.jsoncache import JsonCache

    cache = JsonCache(tmp_path / "cache", "matrix")
    load_matrix(str(matrix_copy), cache=cache)
    (matrix_copy / "measurements" / "nvrtc-13.2.json").unlink()
    with pytest.raises(MatrixError):
        load_matrix(str(matrix_copy), cache=cache)
