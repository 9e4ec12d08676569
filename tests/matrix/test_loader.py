"""The matrix loader: the shipped matrix validates; broken files name file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envdoctor.errors import MatrixError
from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.matrix.loader import load_matrix

REPO = Path(__file__).resolve().parents[2]
MATRICES = REPO / "matrices"


def test_the_shipped_matrix_validates_and_answers_lookups() -> None:
    matrix = load_matrix(str(MATRICES))
    assert matrix.toolkit("12.8") is not None
    assert "sm_120" in matrix.toolkit("12.8").sass_archs
    assert "sm_120" not in matrix.toolkit("12.4").sass_archs
    cu128 = matrix.series_of("2.7.0").variant("cu128")
    assert "sm_120" in cu128.archs["linux"].sass
    assert matrix.gpu_capability("NVIDIA GeForce RTX 5060 Ti").compute_capability == (12, 0)
    assert matrix.gpu_capability("NVIDIA H100 80GB HBM3").compute_capability == (9, 0)
    assert matrix.toolkits_for_arch((12, 0))[0].version == "12.8"


def test_every_fact_has_a_source() -> None:
    matrix = load_matrix(str(MATRICES))
    facts = list(matrix.toolkits) + list(matrix.series) + list(matrix.gpus) + list(matrix.known_errors)
    assert facts and all(fact.source.strip() for fact in facts)
    assert all(v.source.strip() for s in matrix.series for v in s.variants)


def test_torch_series_cover_2_0_through_the_newest_release() -> None:
    series = {s.series for s in load_matrix(str(MATRICES)).series}
    assert {"2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9"} <= series


@pytest.fixture
def matrix_copy(tmp_path: Path) -> Path:
    target = tmp_path / "matrices"
    shutil.copytree(MATRICES, target)
    return target


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_wrong_type_names_file_line_and_field(matrix_copy: Path) -> None:
    cuda = matrix_copy / "cuda.yaml"
    lines = cuda.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.strip().startswith("sass_archs:")) + 1
    _break(cuda, "sass_archs:", "sass_archs: 12\n    ignored_archs:")
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy))
    params = error.value.params
    assert params["file"].endswith("cuda.yaml")
    assert params["line"] == number
    assert params["field"] == "toolkits[0].sass_archs"
    assert "expected array" in params["detail"]


def test_a_missing_source_is_rejected(matrix_copy: Path) -> None:
    gpus = matrix_copy / "gpus.yaml"
    text = gpus.read_text(encoding="utf-8")
    gpus.write_text(text + "  - {match: 'Imaginary 9000', compute_capability: '13.0'}\n", encoding="utf-8")
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy))
    assert error.value.params["field"].endswith(".source")
    assert "required" in error.value.params["detail"]


def test_yaml_syntax_errors_name_the_line(matrix_copy: Path) -> None:
    (matrix_copy / "errors.yaml").write_text("schema_version: 1\nknown_errors: [\n  {code: x\n", encoding="utf-8")
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy))
    assert error.value.params["file"].endswith("errors.yaml") and error.value.params["line"] >= 2


def test_a_missing_file_and_an_unknown_file(matrix_copy: Path) -> None:
    (matrix_copy / "gpus.yaml").unlink()
    with pytest.raises(MatrixError) as missing:
        load_matrix(str(matrix_copy))
    assert missing.value.key == "error.matrix_file_missing"
    shutil.copy(MATRICES / "gpus.yaml", matrix_copy / "gpus.yaml")
    (matrix_copy / "extra.yaml").write_text("a: 1\n", encoding="utf-8")
    with pytest.raises(MatrixError) as unknown:
        load_matrix(str(matrix_copy))
    assert unknown.value.key == "error.matrix_unknown_file"


def test_versions_must_be_strings(matrix_copy: Path) -> None:
    # An unquoted 12.0 is a YAML float: the schema must catch it rather than compare 12.0 to "12.0".
    _break(matrix_copy / "gpus.yaml", "compute_capability: \"12.0\"", "compute_capability: 12.0")
    with pytest.raises(MatrixError) as error:
        load_matrix(str(matrix_copy))
    assert "expected string" in error.value.params["detail"]


def test_the_validated_matrix_is_cached_by_content(matrix_copy: Path, tmp_path: Path) -> None:
    cache = JsonCache(tmp_path / "c", "matrix")
    first = load_matrix(str(matrix_copy), cache=cache)
    assert len(list((tmp_path / "c").iterdir())) == 1
    second = load_matrix(str(matrix_copy), cache=cache)
    assert first == second
    _break(matrix_copy / "gpus.yaml", "schema_version: 1", "schema_version: 2")
    with pytest.raises(MatrixError):  # a changed file is validated again, not served from the cache
        load_matrix(str(matrix_copy), cache=cache)
