"""Property-based hostile input: generated journals, report.json files and environment overrides.
Whatever they hold, envdoctor answers or says clearly why not (EnvdoctorError, exit 3), and never
touches anything outside its own folder."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.cli.main import main
from envdoctor.errors import EnvdoctorError
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.recover import recover
from tests.hostile.conftest import REPO, snapshot

HOSTILE_IDS = ["../../../models", "..", "../..", "/tmp", "a/b", "", ".", "tx/../..", "models", "x" * 300, "C:\\x",
               "\u0000", "20260101T000000Z-abcdef"]
EVENTS = ["begin", "stage-begin", "staged", "swap-begin", "move", "committed", "aborted", "reversed", "verified"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)


def _record():
    fields = {
        "tx": st.sampled_from(HOSTILE_IDS) | JSON,
        "event": st.sampled_from(EVENTS) | JSON,
        "kind": st.sampled_from(["upgrade", "rollback"]) | JSON,
        "runtime": st.sampled_from(["RUNTIME", "MODELS", "/", "..", "STATE"]) | JSON,
        "incoming": st.sampled_from(["MODELS", "STATE/tx-a/stage", "/tmp", ".."]) | JSON,
        "parking": st.sampled_from(["STATE/tx-a/backup", "MODELS", "/"]) | JSON,
        "incoming_id": st.lists(st.integers(), max_size=3) | JSON,
        "outgoing_id": st.lists(st.integers(), max_size=3) | JSON,
    }
    return st.fixed_dictionaries({}, optional=fields)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_record() | JSON, max_size=6), st.booleans())
def test_recover_on_generated_journals_never_touches_the_users_files(records, reverse) -> None:
    base = Path(tempfile.mkdtemp(prefix="envdoctor-hostile-"))
    try:
        root = base / "gsv"
        (root / "runtime" / "bin").mkdir(parents=True)
        (root / "runtime" / "bin" / "python3").write_text("x")
        (root / "models").mkdir()
        (root / "models" / "voice.pth").write_text("weights")
        (base / "outside.txt").write_text("outside")
        layout = Layout(str(root))
        os.makedirs(layout.state_dir)
        paths = {"RUNTIME": str(root / "runtime"), "MODELS": str(root / "models"), "STATE": layout.state_dir}
        with open(layout.journal, "w", encoding="utf-8") as handle:
            for record in records:
                text = json.dumps(record)
                for name, path in paths.items():
                    text = text.replace(f'"{name}', json.dumps(path)[:-1])
                handle.write(text + "\n")
        before = snapshot(base)
        try:
            recover(layout, reverse=reverse)
        except EnvdoctorError:
            pass
        after = snapshot(base)
        for path in set(before) | set(after):
            if not path.startswith(os.path.join("gsv", ".envdoctor")):
                assert before.get(path) == after.get(path), path
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("real-report")
    out = folder / "r.zip"
    subprocess.run([sys.executable, "-m", "envdoctor", "report", "--root", str(folder), "--no-live", "--no-scan",
                    "-o", str(out)], env=dict(os.environ, PYTHONPATH=str(REPO), ENVDOCTOR_GPUS="none"),
                   capture_output=True, timeout=120, check=False)
    with zipfile.ZipFile(out) as archive:
        return json.loads(archive.read("report.json"))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace(value[head], rest, new)
    return copy


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_report_from_and_summarize_on_generated_report_json(real_report, data) -> None:
    paths = list(_paths(real_report))
    mutated = real_report
    for _ in range(data.draw(st.integers(1, 3))):
        candidates = list(_paths(mutated))
        path = data.draw(st.sampled_from(candidates or paths))
        mutated = _replace(mutated, path, data.draw(JSON))
    folder = Path(tempfile.mkdtemp(prefix="envdoctor-hostile-"))
    try:
        source = folder / "report.json"
        source.write_text(json.dumps(mutated), encoding="utf-8")
        for argv in (["report", "--from", str(source), "-o", str(folder / "o.zip")],
                     ["summarize", str(folder), "--json"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            assert code in (0, 3), (argv, err.getvalue())
            assert "Unexpected error" not in err.getvalue(), err.getvalue()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_OVERRIDE_TEXT = st.lists(st.sampled_from(list("X@.;-0123456789e sm_") + ["nan", "inf", "12.0", "8.6", "none"]),
                          max_size=12).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_OVERRIDE_TEXT, st.one_of(st.none(), _OVERRIDE_TEXT))
def test_check_with_generated_env_overrides(gpus, driver) -> None:
    env = {"ENVDOCTOR_GPUS": gpus}
    if driver is not None:
        env["ENVDOCTOR_DRIVER"] = driver
    err = io.StringIO()
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["check", "--python", sys.executable, "--no-live", "--no-scan", "--json"])
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert code in (0, 1, 2, 3)
    assert "Unexpected error" not in err.getvalue(), err.getvalue()
