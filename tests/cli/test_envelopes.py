"""Every command's `--json` output, success and failure, follows the JSON Schema envdoctor publishes for
it (envdoctor/schemas/<command>.json), and its `exit_code` is the exit code the process returned.

(Every other test that prints an envelope is checked too, by an autouse fixture in tests/conftest.py.)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Dict, List

import pytest

from envdoctor import envelope
from envdoctor.cli.main import COMMANDS, main
from envdoctor.demo import SCENARIOS, write_bundle
from tests.support.envelopes import published_commands, validate
from tests.support.fake_torch import FakeTorch, make_runtime

FATBIN = Path(__file__).resolve().parent.parent / "fixtures" / "fatbin" / "arch_specific.so"
NVRTC_LOG = "RuntimeError:\n  nvrtc: error: invalid value for --gpu-architecture (-arch)\n"


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The memo's Windows bundle (a GPT-SoVITS folder), a log, a folder for reports, a missing path."""
    tmp = tmp_path_factory.mktemp("envelopes")
    root = tmp / "gsv"
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    (root / "webui.py").write_text("# GPT-SoVITS\n", encoding="utf-8")
    (tmp / "webui.log").write_text(NVRTC_LOG, encoding="utf-8")
    (tmp / "reports").mkdir()
    linux = tmp / "linux"  # a Linux runtime whose torch already suits the GPU: upgrade has nothing to do
    make_runtime(linux / "runtime", FakeTorch(version="2.7.0+cu128", cuda="12.8", torchaudio="2.7.0+cu128"))
    return {"root": root, "linux": linux, "log": tmp / "webui.log", "reports": tmp / "reports",
            "missing": tmp / "missing"}


# (name, argv with {root} {log} {reports} {missing}); "ok" cases are a command doing its job.
CASES = [
    ("check-ok", "check --root {root}"),
    ("check-error", "check --root {missing}"),
    ("doctor-ok", "doctor --root {root}"),
    ("doctor-list-ok", "doctor --list-tests"),
    ("doctor-error", "doctor --root {missing}"),
    ("explain-ok", "explain {log} --no-machine"),
    ("explain-error", "explain {missing}"),
    ("scan-ok", f"scan {FATBIN} --cc 12.0"),
    ("scan-error", "scan {missing}"),
    ("configure-ok", "configure --root {root} --fp16 off --v2pro-sv cpu --arch-list off --device keep --no-live"),
    ("configure-show-ok", "configure --root {root} --show"),
    ("configure-error", "configure --root {missing}"),
    ("upgrade-ok", "upgrade --root {linux} --dry-run"),
    ("upgrade-error", "upgrade --root {root} --dry-run"),  # a Windows runtime on Linux
    ("upgrade-mirrors-ok", "upgrade --list-mirrors"),
    ("upgrade-mirror-error", "upgrade --root {root} --mirror nowhere --dry-run"),
    ("rollback-ok", "rollback --root {root} --list"),
    ("rollback-error", "rollback --root {root}"),
    ("recover-ok", "recover --root {root}"),
    ("recover-error", "recover --root {missing}"),
    ("report-ok", "report --root {root} --no-live -o {reports}/r.zip"),
    ("report-error", "report --from {missing}"),
    ("summarize-ok", "summarize {reports}"),
    ("summarize-error", "summarize {missing}"),
    ("matrix-ok", "matrix"),
    ("matrix-error", "matrix --matrix-dir {missing}"),
    ("fix-ok", "fix --root {root} --no-live"),
    ("fix-error", "fix --root {root} --wheelhouse {missing}"),
    ("error-error", "--bogus"),
]


def _run(argv: List[str], capsys: pytest.CaptureFixture) -> dict:
    capsys.readouterr()
    code = main(argv + ["--json"])
    out = capsys.readouterr().out
    payload = json.loads(out)
    assert payload["exit_code"] == code, "the envelope's exit_code is the process's"
    return payload


@pytest.mark.parametrize("name, line", CASES, ids=[c[0] for c in CASES])
def test_every_envelope_follows_its_published_schema(name: str, line: str, place, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0@16311")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    argv = [part.format(**{k: str(v) for k, v in place.items()}) for part in line.split()]
    payload = _run(argv, capsys)
    command = validate(payload)
    assert command == name.split("-")[0]
    assert payload["command"] == ("" if command == "error" else command)
    if name.endswith("-error"):
        assert payload["exit_code"] == 3 and payload["error"]["key"] and payload["error"]["message"]
    else:
        assert "error" not in payload and payload["exit_code"] in (0, 1, 2)


def test_every_command_has_a_schema_and_both_outcomes_are_exercised() -> None:
    assert published_commands() == set(COMMANDS) | {"error"} == set(envelope.SCHEMA_VERSIONS)
    for command in published_commands():
        outcomes = {name.rsplit("-", 1)[1] for name, _ in CASES if name.split("-")[0] == command}
        expected = {"error"} if command == "error" else {"ok", "error"}
        assert outcomes == expected, command


def test_the_schemas_are_strict_enough_to_catch_drift(place, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0@16311")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    good = _run(["check", "--root", str(place["root"])], capsys)
    broken = []
    for change in (
        lambda e: e.update(surprise=1),  # an undeclared top-level field
        lambda e: e.update(schema="envdoctor.doctor"),  # the wrong schema for its command
        lambda e: e.pop("verdict"),  # a required field missing
        lambda e: e["findings"][0].update(severity="fatal"),  # a value outside the enum
        lambda e: e.update(error={"key": "x"}),  # an error without its message
        lambda e: e.update(exit_code=7),
    ):
        payload = copy.deepcopy(good)
        change(payload)
        with pytest.raises(AssertionError):
            validate(payload)
        broken.append(payload)
    assert len(broken) == 6


def test_the_schemas_ship_with_the_package() -> None:
    for command in envelope.SCHEMA_VERSIONS:
        path = Path(envelope.schema_path(command))
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$id"] == f"urn:envdoctor:schema:{command}"
        assert schema["properties"]["schema_version"] == {"const": envelope.SCHEMA_VERSIONS[command]}
