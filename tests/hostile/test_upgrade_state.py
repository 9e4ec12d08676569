"""Tampered upgrade state: journals, kept runtimes, mistyped roots. Nothing outside the tool's own
folder is removed or moved; a damaged backup is refused with the runtime untouched."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from envdoctor.upgrade import manifest
from envdoctor.upgrade.layout import Layout
from tests.hostile.conftest import snapshot, unchanged

TXID = "20260101T000000Z-abcdef"


def bundle(tmp_path: Path, template: Path) -> Path:
    """A GPT-SoVITS folder: runtime/, models/ with a user's file, and an empty state folder."""
    root = tmp_path / "gsv"
    shutil.copytree(template, root / "runtime", symlinks=True)
    (root / "models").mkdir()
    (root / "models" / "voice.pth").write_bytes(b"weights of a voice trained for days")
    (root / ".envdoctor" / "upgrade").mkdir(parents=True)
    return root


def write_journal(root: Path, *records: dict) -> None:
    path = root / ".envdoctor" / "upgrade" / "journal.jsonl"
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record)) + "\n")


def keep_backup(root: Path, template: Path, txid: str = TXID, with_manifest: bool = True) -> Path:
    """A backup as an upgrade leaves it: tx-<id>/backup (+ manifest.json recorded before the swap)."""
    layout = Layout(str(root))
    backup = Path(layout.backup(txid))
    shutil.copytree(template, backup, symlinks=True)
    (Path(layout.tx_dir(txid)) / "meta.json").write_text(json.dumps({"txid": txid, "from_torch": "2.5.1"}))
    if with_manifest:
        manifest.record(str(backup), layout.manifest(txid))
    return backup


@pytest.mark.parametrize("txid", ["../../../models", f"{TXID}/../../../models", f"{TXID}/../../..", "../../..", "/tmp",
                                  "..", "a/../../models", "", 7, None, ["x"], "tx\u0000x"])
def test_recover_never_follows_a_tampered_tx_id(cli, tmp_path, template, txid) -> None:
    root = bundle(tmp_path, template)
    (root / ".envdoctor" / "upgrade" / f"tx-{TXID}").mkdir()  # a real transaction folder to climb out of
    write_journal(root, {"tx": txid, "event": "begin", "kind": "upgrade"})
    before = snapshot(root)
    outcome = cli(f"recover with tx={txid!r}", ["recover", "--root", str(root)], expect="answer")
    same = unchanged(f"recover tx={txid!r}", before, snapshot(root))  # recorded first: a loss is tallied
    assert not outcome.crashed and not outcome.hung, outcome.stderr
    assert (root / "models" / "voice.pth").exists()
    assert same


def test_recover_refuses_a_swap_record_that_points_outside(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    models = root / "models"
    st = os.stat(models)
    rt = os.stat(root / "runtime")
    write_journal(root, {"tx": TXID, "event": "begin", "kind": "upgrade"},
                  {"tx": TXID, "event": "swap-begin", "runtime": str(root / "runtime"), "incoming": str(models),
                   "incoming_id": [st.st_dev, st.st_ino], "parking": str(tmp_path / "elsewhere"),
                   "outgoing_id": [rt.st_dev, rt.st_ino]})
    before = snapshot(root)
    outcome = cli("recover swap-begin outside", ["recover", "--root", str(root)])
    same = unchanged("recover swap-begin outside", before, snapshot(root))
    assert outcome.clear_error, outcome.stderr
    assert "outside" in outcome.stderr
    assert same
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("record", [
    '{"tx": "20260101T000000Z-abcdef", "event": "swap-begin"}',
    '{"tx": "20260101T000000Z-abcdef", "event": "swap-begin", "runtime": 5, "incoming": [], '
    '"incoming_id": "x", "parking": null, "outgoing_id": [1]}',
    '{"tx": "20260101T000000Z-abcdef", "event": 3}',
    '{"tx": "20260101T000000Z-abcdef"}',
    '{"event": "begin"}',
    '[1, 2, 3]',
    '"just a string"',
    '{"tx": "20260101T000000Z-abcdef", "event": "begin", "kind": {"a": 1}}',
    "[" * 100000,
    "\xff\xfe garbage",
])
def test_journal_lines_with_missing_or_wrong_fields(cli, tmp_path, template, record) -> None:
    root = bundle(tmp_path, template)
    write_journal(root, {"tx": TXID, "event": "begin", "kind": "upgrade"}, record)
    before = snapshot(root / "runtime")
    for command in (["recover"], ["rollback", "--list"]):
        outcome = cli(f"journal {record[:40]!r} / {command[0]}", [*command, "--root", str(root)], expect="any")
        assert not outcome.crashed and not outcome.hung, (command, outcome.stderr)
    assert unchanged(f"journal {record[:40]!r}", before, snapshot(root / "runtime"))
    assert (root / "models" / "voice.pth").exists()


def test_a_folder_where_the_journal_should_be(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    (root / ".envdoctor" / "upgrade" / "journal.jsonl").mkdir()
    for command in (["recover"], ["rollback"], ["rollback", "--prune"]):
        outcome = cli(f"journal is a folder / {' '.join(command)}", [*command, "--root", str(root)])
        assert outcome.clear_error, outcome.stdout + outcome.stderr
        assert "is a folder" in outcome.stderr
    outcome = cli("journal is a folder / check", ["check", "--no-live", "--root", str(root)], expect="answer")
    assert not outcome.crashed


def test_rollback_refuses_a_backup_whose_lib_was_deleted(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    backup = keep_backup(root, template)
    shutil.rmtree(backup / "lib")
    before = snapshot(root / "runtime")
    for lang, text in (("en", "damaged"), ("zh_CN", "已损坏")):
        outcome = cli(f"rollback to a backup without lib/ ({lang})", ["rollback", "--root", str(root), "--lang", lang])
        same = unchanged(f"rollback damaged backup ({lang}): runtime replaced by a broken one", before,
                         snapshot(root / "runtime"))
        assert outcome.clear_error, outcome.stdout + outcome.stderr
        assert text in outcome.stderr
        assert same
    assert backup.exists()


def test_rollback_refuses_a_backup_with_a_changed_torch(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    backup = keep_backup(root, template)
    version = next(backup.glob("lib/python3.*/site-packages/torch/version.py"))
    version.write_text(version.read_text().replace("2.6.0", "2.7.0"))
    before = snapshot(root / "runtime")
    outcome = cli("rollback to a tampered backup", ["rollback", "--root", str(root)])
    same = unchanged("rollback tampered backup", before, snapshot(root / "runtime"))
    assert outcome.clear_error and "version.py" in outcome.stderr, outcome.stderr
    assert same


def test_rollback_of_an_older_backup_without_manifest_still_checks_the_tree(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    backup = keep_backup(root, template, with_manifest=False)
    shutil.rmtree(backup / "lib")
    before = snapshot(root / "runtime")
    outcome = cli("rollback to a legacy backup without lib/", ["rollback", "--root", str(root)])
    same = unchanged("rollback legacy damaged backup: runtime replaced by a broken one", before,
                     snapshot(root / "runtime"))
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert same


def test_rollback_to_a_whole_backup_works_and_records_a_manifest(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    keep_backup(root, template)
    (root / "runtime" / "marker").write_text("current")
    outcome = cli("rollback to a whole backup", ["rollback", "--root", str(root), "--json"], expect="answer")
    assert outcome.returncode == 0, outcome.stderr
    result = json.loads(outcome.stdout)
    assert not (root / "runtime" / "marker").exists()
    layout = Layout(str(root))
    parked = Path(layout.rejected(result["txid"]))
    assert (parked / "marker").exists()
    recorded = manifest.load(layout.manifest(result["txid"]))
    assert recorded is not None and "marker" in recorded["files"]
    assert manifest.verify(str(parked), recorded) is None


@pytest.mark.parametrize("command", [["rollback"], ["recover"], ["rollback", "--prune"], ["rollback", "--list"],
                                     ["recover", "--reverse"]])
def test_a_mistyped_root_creates_nothing(cli, tmp_path, command) -> None:
    typo = tmp_path / "GPT-SoVITS-typo"
    outcome = cli(f"mistyped --root / {' '.join(command)}", [*command, "--root", str(typo)])
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert not typo.exists()


@pytest.mark.parametrize("command", [["rollback"], ["recover"], ["rollback", "--prune"]])
def test_a_root_without_state_creates_nothing(cli, tmp_path, template, command) -> None:
    root = bundle(tmp_path, template)
    shutil.rmtree(root / ".envdoctor")
    cli(f"no state / {' '.join(command)}", [*command, "--root", str(root)], expect="any")
    assert not (root / ".envdoctor").exists()


def test_prune_never_leaves_the_state_folder(cli, tmp_path, template) -> None:
    root = bundle(tmp_path, template)
    state = root / ".envdoctor" / "upgrade"
    (state / "tx-..").mkdir()  # a name that would resolve to the state folder's parent
    os.symlink(root / "models", state / "tx-20200101T000000Z-000000")
    before = snapshot(root / "models")
    outcome = cli("prune with hostile tx folders", ["rollback", "--prune", "--keep", "0", "--root", str(root)],
                  expect="any")
    assert not outcome.crashed, outcome.stderr
    assert unchanged("prune hostile", before, snapshot(root / "models"))
