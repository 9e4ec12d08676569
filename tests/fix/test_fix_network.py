"""Network trouble in mainland China (issue 26, item 6): one sentence instead of pip's raw
`HTTPSConnectionPool(... NameResolutionError(...` in the choice table, and where PyTorch's index does not
answer but a verified mirror does, that mirror is proposed (Enter or --yes takes it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.fix.choices import network_problem, upgrade_choice
from envdoctor.i18n import message
from tests.fix.conftest import torch_version

RAW_DNS = ("HTTPSConnectionPool(host='example.invalid', port=443): Max retries exceeded with url: /whl/cu128/torch/ "
           "(Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve "
           "'example.invalid' ([Errno -2] Name or service not known)\"))")


@pytest.mark.parametrize("raw, kind", [
    (RAW_DNS, "dns"),
    ("[WinError 11001] getaddrinfo failed", "dns"),
    ("<urlopen error [Errno 111] Connection refused>", "refused"),
    ("Read timed out. (read timeout=15)", "timeout"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "tls"),
    ("something else entirely", "other"),
])
def test_network_problems_are_named(raw: str, kind: str) -> None:
    assert network_problem(raw) == kind


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_choice_table_says_it_in_one_sentence(lang: str) -> None:
    envelope = {"plan": {"target": {"torch": "2.7.0+cu128", "variant": "cu128"}, "current": {"torch": "2.6.0"}},
                "status": "upgrade", "resolve_note": RAW_DNS}

    def text(key: str, **params: object) -> str:
        return message(lang, key, **params)

    costs = " ".join(upgrade_choice(envelope, 3, False, text).costs)
    assert "HTTPSConnectionPool" not in costs and "NameResolutionError" not in costs
    assert message(lang, "fix.net.dns") in costs
    proposed = " ".join(upgrade_choice(envelope, 3, False, text, reachable_mirror="sjtu").costs)
    assert "--mirror sjtu" in proposed


def _verified(matrix: str) -> None:
    path = os.path.join(matrix, "mirrors.yaml")
    text = Path(path).read_text(encoding="utf-8")
    head, flat = text.split("  - name: loop-flat", 1)
    flat = flat.replace('    source: "tests/upgrade/upgrade_helpers.py IndexServer"',
                        "    verified: true\n    source:\n      kind: primary\n      url: \"https://example.org/loopback\"\n"
                        "      says: \"the test's own loopback server serves the wheels\"")
    Path(path).write_text(head + "  - name: loop-flat" + flat, encoding="utf-8")


@pytest.mark.slow
def test_an_unreachable_index_and_a_verified_mirror_that_answers(posix_bundle: Path, loopback_mirrors,
                                                                 capsys) -> None:
    _verified(os.environ["ENVDOCTOR_MATRIX_DIR"])
    main(["fix", "--root", str(posix_bundle), "--json", "--lang", "en"])
    out = json.loads(capsys.readouterr().out)
    assert out["choices"], (out.get("error"), out.get("status"), out.get("steps"))
    b = [c for c in out["choices"] if c["key"] == "B"][0]
    assert b["details"]["suggested_mirror"] == "loop-flat", b
    assert any("The mirror loop-flat answers" in cost for cost in b["costs"]), b["costs"]
    # --yes without a source: the proposed mirror serves the wheels (the index would not).
    main(["fix", "--root", str(posix_bundle), "--yes", "--choose", "B", "--json", "--lang", "en"])
    out = json.loads(capsys.readouterr().out)
    assert out["mirror"] == "loop-flat" and out["status"] == "changed-unproven", json.dumps(out["steps"])
    assert torch_version(posix_bundle) == "2.7.0+cu128"
