"""Message catalogues (en, zh_CN), keyed by finding code or message key, and language choice.

May be imported by: every package that shows text: cli, envelope, report, support.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any, Dict, Mapping, Optional

LANGUAGES = ("en", "zh_CN")


def detect_language(explicit: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """--lang, then ENVDOCTOR_LANG, then the POSIX locale variables, then the Windows UI language."""
    env = os.environ if environ is None else environ
    for value in (explicit, env.get("ENVDOCTOR_LANG"), env.get("LC_ALL"), env.get("LC_MESSAGES"), env.get("LANG")):
        if value:
            return "zh_CN" if value.lower().startswith("zh") else "en"
    if sys.platform == "win32":
        try:
            import ctypes  # Windows only: the UI language

            lang_id = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
            return "zh_CN" if (lang_id & 0x3FF) == 0x04 else "en"  # 0x04: LANG_CHINESE
        except Exception:
            return "en"
    return "en"


_CATALOGUES: Dict[str, Dict[str, str]] = {}


def catalogue(lang: str) -> Dict[str, str]:
    """All messages of a language: the union of the MESSAGES dicts of envdoctor/i18n/<lang>/*.py.

    One module per feature keeps features from editing each other's catalogue files.
    """
    lang = lang if lang in LANGUAGES else "en"
    if lang not in _CATALOGUES:
        package = importlib.import_module(f"envdoctor.i18n.{lang}")
        merged: Dict[str, str] = {}
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"envdoctor.i18n.{lang}.{info.name}")
            merged.update(getattr(module, "MESSAGES", {}))
        _CATALOGUES[lang] = merged
    return _CATALOGUES[lang]


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def message(lang: str, key: str, **params: Any) -> str:
    """Catalogue text for key, filled from params; falls back to English, then to the key."""
    template = catalogue(lang).get(key)
    if template is None:
        template = catalogue("en").get(key, key)
    values = {k: _text(v, lang) for k, v in params.items()}
    if "{cmd}" in template and "cmd" not in values:
        # Hints name the command the way the user started envdoctor (runtime\python.exe envdoctor.pyz...)
        from envdoctor.process.invocation import current

        values["cmd"] = current()
    return template.format_map(_Missing(values))


def colon(lang: str) -> str:
    """The colon after a label: full-width in a Chinese sentence."""
    return "：" if lang == "zh_CN" else ": "


def has_message(lang: str, key: str) -> bool:
    return key in catalogue(lang)


def _text(value: Any, lang: str = "en") -> str:
    """A parameter as text; {"en": ..., "zh_CN": ...} (texts from the matrix) in the message's language."""
    if value is None:
        return ""
    if isinstance(value, dict) and "en" in value:
        return str(value.get(lang) or value["en"])
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        # Catalogue messages as a parameter, kept as keys in the finding and rendered here, in the
        # reader's language ({"messages": [keys], "inline": true} drops each one's closing full stop).
        parts = [message(lang, str(key)) for key in value["messages"]]
        if value.get("inline") or len(parts) > 1:
            parts = [part.rstrip("。.") for part in parts]
        return " ".join(parts)
    return str(value)
