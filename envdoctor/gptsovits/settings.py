"""The settings `envdoctor configure` writes, how each was decided, and parsing of the user's choices.

A value of None means "leave GPT-SoVITS's own behaviour": no override is written for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from envdoctor.gptsovits.textfile import ConfigureError

FP16_CHOICES = ("on", "off", "auto")
SV_CHOICES = ("on", "cpu", "off", "auto")
G2PW_CHOICES = ("on", "cpu", "auto")  # on: GPT-SoVITS's own choice (CUDA when onnxruntime offers it)
DEVICE_RE = re.compile(r"^(cpu|cuda|cuda:\d+)$")
ARCH_RE = re.compile(r"^\d{1,2}\.\d(\+PTX)?([; ]\d{1,2}\.\d(\+PTX)?)*$")

# Where a resolved value came from (message keys configure.source.<name>).
EXPLICIT = "explicit"
DOCTOR = "doctor"
PREVIOUS = "previous"
UNSET = "unset"


@dataclass(frozen=True)
class Choice:
    """One resolved setting: the value to write (None: keep GPT-SoVITS's default) and its origin."""

    value: Any
    source: str
    evidence: str = ""


@dataclass(frozen=True)
class Settings:
    fp16: Choice  # True / False / None
    sv: Choice  # "on" / "cpu" / "off" / None
    arch_list: Choice  # "12.0" / None
    device: Choice  # "cuda" / "cpu" / "cuda:1" / None
    launcher_check: bool = False
    check_command: str = "auto"  # "auto": the bundle's envdoctor.pyz when present, else `envdoctor`
    g2pw: Choice = Choice(None, UNSET)  # "cpu" / None (GPT-SoVITS's own choice)

    def to_json(self) -> Dict[str, Any]:
        return {
            "fp16": self.fp16.value, "fp16_source": self.fp16.source,
            "v2pro_sv": self.sv.value, "v2pro_sv_source": self.sv.source,
            "arch_list": self.arch_list.value, "arch_list_source": self.arch_list.source,
            "device": self.device.value, "device_source": self.device.source,
            "launcher_check": self.launcher_check, "check_command": self.check_command,
            "g2pw": self.g2pw.value, "g2pw_source": self.g2pw.source,
        }


def parse_arch_list(value: str) -> str:
    text = value.strip()
    if not ARCH_RE.match(text):
        raise ConfigureError("configure.error.bad_arch_list", value=value)
    return text


def parse_device(value: str) -> str:
    text = value.strip().lower()
    if not DEVICE_RE.match(text):
        raise ConfigureError("configure.error.bad_device", value=value)
    return text


def fp16_value(choice: str) -> Optional[bool]:
    return {"on": True, "off": False}.get(choice)


def resolve(requested: Dict[str, Optional[str]], previous: Dict[str, Any], recommend: Any, detect_arch: Any,
            launcher_check: Optional[bool], check_command: Optional[str]) -> Tuple[Settings, Dict[str, Any]]:
    """Turn the options into values; returns (settings, the requests to remember in the manifest).

    An option left out repeats what the last applied run asked for (so `--arch-list 8.9` alone does not
    undo an earlier `--fp16 off`), else means auto. `recommend()` (run only when fp16 or v2pro-sv is
    auto) returns a recommend.Recommendation; `detect_arch()` returns (arch list or None, evidence).
    """
    asked = dict(previous.get("requested", {}))
    explicit_now = {key for key, value in requested.items() if value is not None}
    asked.update({key: value for key, value in requested.items() if value is not None})
    # `--launcher-check` alone asks for the check before each start, nothing else: the settings never
    # asked for stay GPT-SoVITS's own ("keep") instead of auto (which wrote FP16 off and patched sv.py).
    only_launcher = not explicit_now and launcher_check is not None
    for key, default in (("fp16", "auto"), ("v2pro_sv", "auto"), ("arch_list", "auto"), ("device", "keep"),
                         ("g2pw", "auto")):
        asked.setdefault(key, "keep" if only_launcher else default)
    cached: Dict[str, Any] = {}

    def advice() -> Any:
        if "rec" not in cached:
            cached["rec"] = recommend()
        return cached["rec"]

    def origin(key: str) -> str:
        return EXPLICIT if key in explicit_now else PREVIOUS

    if asked["fp16"] == "keep":
        fp16 = Choice(None, UNSET)
    elif asked["fp16"] == "auto":
        rec = advice()
        fp16 = Choice(rec.fp16, DOCTOR, rec.fp16_evidence or (rec.error or ""))
    else:
        fp16 = Choice(fp16_value(str(asked["fp16"])), origin("fp16"))
    if asked["v2pro_sv"] == "keep":
        sv = Choice(None, UNSET)
    elif asked["v2pro_sv"] == "auto":
        rec = advice()
        sv = Choice(rec.sv, DOCTOR, rec.sv_evidence or (rec.error or ""))
    else:
        sv = Choice(asked["v2pro_sv"], origin("v2pro_sv"))
    if asked["g2pw"] == "auto":
        rec = advice()
        g2pw = Choice(getattr(rec, "g2pw", None), DOCTOR, getattr(rec, "g2pw_evidence", "") or (rec.error or ""))
    else:
        g2pw = Choice("cpu" if asked["g2pw"] == "cpu" else None, origin("g2pw"))
    wanted = str(asked["arch_list"])
    if wanted == "keep":
        arch = Choice(None, UNSET)
    elif wanted == "auto":
        value, evidence = detect_arch()
        arch = Choice(value, DOCTOR, evidence)
    elif wanted.lower() in ("off", "none"):
        arch = Choice(None, origin("arch_list"))
    else:
        arch = Choice(parse_arch_list(wanted), origin("arch_list"))
    wanted = str(asked["device"])
    device = Choice(None, UNSET) if wanted in ("keep", "auto") else Choice(parse_device(wanted), origin("device"))
    check = bool(previous.get("launcher_check", False)) if launcher_check is None else launcher_check
    command = check_command or str(previous.get("check_command") or "auto")
    remember = {"requested": asked, "launcher_check": check, "check_command": command}
    return Settings(fp16, sv, arch, device, check, command, g2pw), remember
