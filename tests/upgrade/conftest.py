"""Fixtures for the upgrade tests: wheels, an index on 127.0.0.1, venv runtimes, a test matrix."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import upgrade_helpers as h  # noqa: E402

RTX5060TI = "NVIDIA GeForce RTX 5060 Ti@12.0@16311"
DRIVER_OK = "576.02@12.9"


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("wheels"))
    fat_new = h.build_fatbin(os.path.join(base, "nvcc"), ["sm_90", "sm_120"])
    fat_old = h.build_fatbin(os.path.join(base, "nvcc"), ["sm_86", "sm_90"])
    out = {
        "old": h.build_set(os.path.join(base, "old"), "2.6.0", "cu124", "12.4", h.ARCHS_OLD, fatbin=fat_old),
        "new": h.build_set(os.path.join(base, "new"), "2.7.0", "cu128", "12.8", h.ARCHS_NEW, fatbin=fat_new,
                           dep="fakedep>=1"),
        "broken": h.build_set(os.path.join(base, "broken"), "2.7.0", "cu128", "12.8", h.ARCHS_NEW,
                              fail_import="libcudnn missing (test fixture)", dep="fakedep>=1"),
        "nocodec": h.build_set(os.path.join(base, "nocodec"), "2.7.0", "cu128", "12.8", h.ARCHS_NEW,
                               dep="fakedep>=1", no_codec=True),
        "oldarch": h.build_set(os.path.join(base, "oldarch"), "2.7.0", "cu128", "12.8", h.ARCHS_OLD,
                               dep="fakedep>=1"),
        "fakedep": [h.build_wheel(os.path.join(base, "dep"), "fakedep", "1.0",
                                  {"fakedep/__init__.py": b"VALUE = 1\n"})],
        "fatbin": fat_new is not None,
    }
    return out


@pytest.fixture(scope="session")
def template_runtime(tmp_path_factory, wheels):
    """A venv with pip and the old fake torch 2.6.0+cu124 (built once, copied per test)."""
    base = str(tmp_path_factory.mktemp("template"))
    path = os.path.join(base, "runtime")
    python = h.make_venv(path)
    h.pip_install(python, wheels["old"])
    return path


@pytest.fixture
def bundle(tmp_path, template_runtime):
    """A GPT-SoVITS-like root whose runtime/ is a real venv."""
    root = tmp_path / "bundle"
    root.mkdir()
    shutil.copytree(template_runtime, str(root / "runtime"), symlinks=True)
    return str(root)


@pytest.fixture
def env(tmp_path, monkeypatch):
    matrix = h.write_matrix(str(tmp_path / "matrix"))
    values = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "ENVDOCTOR_MATRIX_DIR": matrix,
              "ENVDOCTOR_GPUS": RTX5060TI, "ENVDOCTOR_DRIVER": DRIVER_OK, "ENVDOCTOR_LANG": "en"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("ENVDOCTOR_FAULT_AT", "ENVDOCTOR_FAULT_AFTER_S", "PIP_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(key, raising=False)
    return dict(values)


@pytest.fixture
def index(wheels):
    with h.IndexServer(wheels["new"] + wheels["fakedep"]) as server:
        yield server
