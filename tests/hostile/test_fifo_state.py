"""envdoctor's own state files (the JSON cache, a kept runtime's meta.json) are anyone's to edit: a FIFO in
their place must not hang a command, deep nesting must not crash it. Each read runs in a thread with a
deadline, so a regression fails here instead of hanging the suite."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.trees import read_meta

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
DEEP = "[" * 100000 + "]" * 100000


def within(seconds: float, call: Callable[[], Any]) -> Any:
    box = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the read blocked"
    return box[0]


def fifo_at(path: Path) -> None:
    if path.exists():
        path.unlink()
    os.mkfifo(path)


def test_a_cache_entry_that_is_a_fifo_or_too_deep_is_a_miss(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path, "gpus")
    cache.put("k", {"gpus": []})
    entry = next(tmp_path.glob("gpus-*.json"))
    assert cache.get("k") == {"gpus": []}
    fifo_at(entry)
    assert within(5, lambda: cache.get("k")) is None
    entry.unlink()
    entry.write_text('{"key": "k", "value": ' + DEEP + "}")
    assert within(5, lambda: cache.get("k")) is None


def test_a_kept_runtimes_meta_that_is_a_fifo_or_too_deep_is_unusable(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    meta = Path(layout.meta("20261205T075549Z-1a2b3c"))
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"kind": "upgrade"}))
    assert read_meta(layout, "20261205T075549Z-1a2b3c") == {"kind": "upgrade"}
    fifo_at(meta)
    assert within(5, lambda: read_meta(layout, "20261205T075549Z-1a2b3c")) == {}
    meta.unlink()
    meta.write_text(DEEP)
    assert within(5, lambda: read_meta(layout, "20261205T075549Z-1a2b3c")) == {}
