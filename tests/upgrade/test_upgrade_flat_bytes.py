"""A flat page that publishes no hashes costs each wheel's bytes once (issue 28 item 6): the dry run's
whole-file metadata reads are kept under the hash envdoctor computed, the run's plan and download reuse
them; nothing is left in an `unhashed-<pid>` folder. Real pip, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("ranges", [pytest.param(False, marks=pytest.mark.slow), True], ids=["whole-files", "range"])
def test_a_flat_page_without_hashes_sends_each_wheel_once(bundle, env, wheels, capsys, ranges):
    files = wheels["new"] + wheels["fakedep"]
    with h.IndexServer(files, ranges=ranges) as server:
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--find-links", server.flat_url, "--dry-run")
        assert code == 0, out["summary"]
        assert any(n["key"] == "unhashed" for n in out["check_notes"])
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--find-links", server.flat_url, "--yes")
        assert code == 0 and out["status"] == "committed", out["summary"]
        for path in files:
            size = os.path.getsize(path)
            # whole: exactly once. With Range, the dry run and the run's plan each read the zip's tail
            # (64 KB) and one member (~2 KB) of each wheel: metadata, not the wheel again.
            metadata = 0 if not ranges else 2 * (64 * 1024 + 4096)
            assert size <= server.wheel_bytes_served(os.path.basename(path)) <= size + metadata
    cache = os.path.join(env["ENVDOCTOR_CACHE_DIR"], "wheels")
    assert not [d for d in os.listdir(cache) if d.startswith("unhashed-")]
