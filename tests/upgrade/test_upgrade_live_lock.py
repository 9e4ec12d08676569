"""A lock held by a live process means "an upgrade is running"; only a dead holder means interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from envdoctor.cli.main import main
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import live_holder

HOLD = """
import sys, time
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import TxLock
with TxLock(Layout(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_running_upgrade_is_not_called_interrupted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ENVDOCTOR_LANG", "en")
    root = str(tmp_path)
    layout = Layout(root)
    Journal(layout).append("20260101T000000Z-aaaaaa", "begin", kind="upgrade")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, root], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        info = live_holder(layout)
        assert info is not None and info["pid"] == holder.pid
        code = main(["upgrade", "--root", root, "--yes"])
        err = capsys.readouterr().err
        assert code != 0
        assert f"process {holder.pid}" in err and "running" in err and "recover" not in err.split("running")[0]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert live_holder(layout) is None  # the holder died: now it is an interrupted transaction
    main(["recover", "--root", root, "--json"])
    assert Journal(layout).open_transactions() == []
    assert not os.path.exists(layout.lock)  # the bundle lock leaves no file behind once released (POSIX)
