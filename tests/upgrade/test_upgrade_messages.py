"""Every message key the upgrade code can ask for exists in both catalogues."""

from __future__ import annotations

import os
import re

import pytest

from envdoctor.i18n import catalogue

PKG = os.path.join(os.path.dirname(__file__), "..", "..", "envdoctor")
SOURCES = [os.path.join(PKG, "upgrade", n) for n in os.listdir(os.path.join(PKG, "upgrade")) if n.endswith(".py")]
SOURCES += [os.path.join(PKG, "cli", n) for n in ("upgrade.py", "rollback.py", "recover.py", "upgrade_view.py")]


def used_keys():
    keys = set()
    for path in SOURCES:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        keys |= set(re.findall(r'"((?:upgrade|rollback|recover)\.[a-z_.]+[a-z_])"', text))
        keys |= {f"upgrade.note.{k}" for k in re.findall(r'Note\("([a-z_]+)"', text)}
    keys |= {f"upgrade.status.{s}" for s in ("upgrade", "up-to-date", "no-gpu", "driver-too-old", "no-candidate")}
    keys |= {f"upgrade.step.{s}" for s in ("stage", "resolve", "download", "install", "verify", "swap")}
    keys |= {f"recover.outcome.{s}" for s in ("completed", "reversed", "discarded", "kept",
                                                           "rollback-completed", "rollback-reversed")}
    return sorted(k for k in keys if not k.endswith("."))


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_key_has_a_message(lang):
    missing = [k for k in used_keys() if k not in catalogue(lang)]
    assert missing == []


def test_catalogues_have_the_same_keys():
    en = {k for k in catalogue("en") if k.startswith(("upgrade.", "rollback.", "recover."))}
    zh = {k for k in catalogue("zh_CN") if k.startswith(("upgrade.", "rollback.", "recover."))}
    assert en == zh and len(en) > 50
