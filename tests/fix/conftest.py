"""Bundles for `envdoctor fix`: a GPT-SoVITS tree beside a runtime, on a simulated RTX 5060 Ti.

- windows_bundle: the memo's Windows bundle (torch 2.4.1+cu118 files, python.exe) with a v2Pro-era
  GPT-SoVITS tree: A can work around both failures, B cannot run here (a Windows runtime on Linux).
- posix_bundle: the same tree with a real venv runtime holding an old torch (2.6.0+cu124, no sm_120):
  only B fixes it; the wheelhouse holds real wheels of a 2.7.0+cu128 build (see tests/upgrade).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from envdoctor.demo import SCENARIOS, write_bundle
from tests.gptsovits.trees import make_tree

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "upgrade"))
import upgrade_helpers as h  # noqa: E402

RTX5060TI = "NVIDIA GeForce RTX 5060 Ti@12.0@16311"
DRIVER = "576.02@12.9"


@pytest.fixture
def fix_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in {"ENVDOCTOR_GPUS": RTX5060TI, "ENVDOCTOR_DRIVER": DRIVER,
                       "ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "ENVDOCTOR_NO_REPLAY": "1"}.items():
        monkeypatch.setenv(key, value)
    for key in ("ENVDOCTOR_MATRIX_DIR", "PIP_INDEX_URL", "PIP_FIND_LINKS", "is_half", "GPT_SOVITS_SV_MODE"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


@pytest.fixture
def windows_bundle(tmp_path: Path, fix_env: Path) -> Path:
    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    return root


@pytest.fixture(scope="session")
def fix_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = str(tmp_path_factory.mktemp("fix-wheels"))
    dep = h.build_wheel(os.path.join(base, "dep"), "fakedep", "1.0", {"fakedep/__init__.py": b"VALUE = 1\n"})
    new = h.build_set(os.path.join(base, "new"), "2.7.0", "cu128", "12.8", h.ARCHS_NEW, dep="fakedep>=1")
    broken = h.build_set(os.path.join(base, "broken"), "2.7.0", "cu128", "12.8", h.ARCHS_NEW,
                         fail_import="libcudnn missing (test fixture)", dep="fakedep>=1")
    houses = {}
    for name, files in (("new", new + [dep]), ("broken", broken + [dep])):
        folder = os.path.join(base, "house-" + name)
        os.makedirs(folder)
        for path in files:
            shutil.copy(path, folder)
        houses[name] = folder
    old = h.build_set(os.path.join(base, "old"), "2.6.0", "cu124", "12.4", h.ARCHS_OLD)
    return {"houses": houses, "old": old}


@pytest.fixture(scope="session")
def template_runtime(tmp_path_factory: pytest.TempPathFactory, fix_wheels: dict) -> str:
    path = os.path.join(str(tmp_path_factory.mktemp("fix-template")), "runtime")
    h.pip_install(h.make_venv(path), fix_wheels["old"])
    return path


@pytest.fixture
def posix_bundle(tmp_path: Path, fix_env: Path, template_runtime: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    shutil.rmtree(root / "runtime")  # the tree's stand-in interpreter gives way to a real venv
    shutil.copytree(template_runtime, str(root / "runtime"), symlinks=True)
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", h.write_matrix(str(tmp_path / "matrix")))
    return root


def torch_version(root: Path) -> str:
    """torch's version as installed in root/runtime, read from its dist-info (no interpreter run)."""
    site = next((root / "runtime" / "lib").glob("python3*/site-packages"))
    names = [p.name for p in site.glob("torch-*.dist-info")]
    assert len(names) == 1, names
    return names[0][len("torch-"):-len(".dist-info")]


# An https address on loopback that refuses connections: the matrix's "official" index as a user in
# mainland China may meet it (no answer), without a test ever reaching the internet.
UNREACHABLE_INDEX = "https://127.0.0.1:9/whl/"


@pytest.fixture
def loopback_mirrors(posix_bundle: Path, fix_wheels: dict):
    """posix_bundle's matrix with two mirrors on a loopback server (see upgrade_helpers.mirrors_yaml),
    and PyTorch's index in torch.yaml replaced by one that does not answer."""
    house = fix_wheels["houses"]["new"]
    with h.IndexServer([os.path.join(house, name) for name in sorted(os.listdir(house))]) as server:
        matrix = os.environ["ENVDOCTOR_MATRIX_DIR"]
        with open(os.path.join(matrix, "mirrors.yaml"), "w", encoding="utf-8") as handle:
            handle.write(h.mirrors_yaml(server.root))
        torch_yaml = os.path.join(matrix, "torch.yaml")
        with open(torch_yaml, encoding="utf-8") as handle:
            text = handle.read()
        with open(torch_yaml, "w", encoding="utf-8") as handle:
            handle.write(text.replace("https://download.pytorch.org/whl/", UNREACHABLE_INDEX))
        yield server
