"""Decide every file change for a set of settings, in memory; nothing is written here.

Each target starts from the file as envdoctor first found it (its backup) when the file is still what
envdoctor last wrote, so running configure again with other values never stacks edits and returning to
GPT-SoVITS's defaults gives the original bytes back. A file changed since (by the user, or by
GPT-SoVITS's own `save_configs`) starts from its current text minus envdoctor's blocks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from envdoctor.gptsovits import blocks, launchers, patches, yamledit
from envdoctor.gptsovits.layout import BAT, CONFIG_PY, G2PW_PY, PS1, SH, SV_PY, TTS_YAML, Installation
from envdoctor.gptsovits.settings import Settings
from envdoctor.gptsovits.textfile import ConfigureError, TextFile, from_bytes, read_text
from envdoctor.gptsovits.writer import State, Write, sha256

Message = Tuple[str, Dict[str, Any]]


@dataclass
class Plan:
    installation: Installation
    settings: Settings
    writes: List[Write] = field(default_factory=list)
    refusals: List[Message] = field(default_factory=list)
    notes: List[Message] = field(default_factory=list)
    texts: Dict[str, Tuple[str, str]] = field(default_factory=dict)  # relative -> (before, after) for diffs
    # How the user starts envdoctor in the GPT-SoVITS folder: the blocks' "remove with:" hint names it.
    prefix: str = "envdoctor"


@dataclass(frozen=True)
class Base:
    current: TextFile  # the file as it is now
    style: TextFile  # whose encoding and newline edits use (the pristine file where there is one)
    text: str  # the text to edit
    original: Optional[bytes]  # what --revert returns to
    original_mode: Optional[int]


def _base(inst: Installation, state: State, relative: str, plan: Plan, allow_gbk: bool = False,
          block_names: Tuple[str, ...] = ()) -> Base:
    path = inst.path(relative)
    current = read_text(path, allow_gbk=allow_gbk)
    managed, original, original_mode = state.original(relative)
    current_raw = current.raw if current.exists else None
    if managed and sha256(current_raw) == state.written_sha(relative):
        pristine = from_bytes(path, original, original_mode, allow_gbk, current.newline)
        # Edit with the pristine file's encoding and newline, which are the current file's too.
        return Base(current, pristine if pristine.exists else current, pristine.text, original, original_mode)
    text = current.text
    if managed:
        plan.notes.append(("configure.note.drift", {"file": relative}))
        for name in block_names:
            text = blocks.strip(text, name)
        stripped = current.encode(text) if current.exists else None
        return Base(current, current, text, stripped, current.mode)
    return Base(current, current, text, current_raw, current.mode)


def _add(plan: Plan, relative: str, base: Base, new_text: Optional[str], new_mode: Optional[int] = None) -> None:
    current = base.current
    after = None if new_text is None else base.style.encode(new_text)
    before = current.raw if current.exists else None
    if after == before:
        return
    mode = current.mode if current.exists else (base.original_mode if base.original is not None else new_mode)
    plan.writes.append(Write(relative, before, after, mode, base.original, base.original_mode))
    plan.texts[relative] = (current.text if current.exists else "", new_text or "")


def build(inst: Installation, settings: Settings, lang_message: Any, host: str) -> Plan:
    """All writes, refusals and notes for SETTINGS. `lang_message(key)` gives launcher stop text."""
    state = State(inst.root)
    plan = Plan(inst, settings, prefix=_typed_prefix(inst.root))
    plan.notes.append(("configure.note.generation", {"generation": inst.generation, "root": inst.root}))
    _yaml(inst, state, settings, plan)
    _launchers(inst, state, settings, plan, lang_message, host)
    _config_patch(inst, state, settings, plan)
    _sv_patch(inst, state, settings, plan)
    _g2pw_patch(inst, state, settings, plan)
    _honesty(inst, settings, plan)
    return plan


def _yaml(inst: Installation, state: State, settings: Settings, plan: Plan) -> None:
    values: Dict[str, Any] = {}
    if settings.device.value is not None:
        values["device"] = settings.device.value
    if settings.fp16.value is not None:
        values["is_half"] = bool(settings.fp16.value)
    if settings.device.value == "cpu":
        values["is_half"] = False  # TTS_Config turns half precision off on the CPU anyway
    if not inst.exists(TTS_YAML) and not state.files.get(TTS_YAML):
        if values:
            plan.notes.append(("configure.note.yaml_missing", {"file": TTS_YAML}))
        return
    base = _base(inst, state, TTS_YAML, plan, allow_gbk=True)  # Chinese Windows editors save it as GBK
    try:
        new_text = yamledit.set_custom(base.text, base.style.newline, values)
    except yamledit.YamlTooComplex as exc:
        raise ConfigureError("configure.error.yaml_too_complex", path=inst.path(TTS_YAML), detail=str(exc)) from exc
    except yamledit.YamlMalformed as exc:
        raise ConfigureError("configure.error.yaml_malformed", path=inst.path(TTS_YAML), detail=str(exc)) from exc
    except yamledit.YamlLayoutUnsupported as exc:
        plan.refusals.append(("configure.refuse.yaml_layout", {"file": TTS_YAML, "detail": str(exc)}))
        return
    _add(plan, TTS_YAML, base, new_text)


def _launchers(inst: Installation, state: State, settings: Settings, plan: Plan, lang_message: Any,
               host: str) -> None:
    env = launchers.environment(settings)
    stop = lang_message("configure.launcher.stop")
    missing = lang_message("configure.launcher.runtime_missing")
    has_pyz = inst.exists(launchers.PYZ)
    for relative in (BAT, PS1, SH):
        check = None
        if settings.launcher_check:
            try:
                check = launchers.check_command(relative, settings.check_command, has_pyz, inst.posix_python,
                                                 plan.prefix)
            except launchers.BadCheckCommand as exc:
                raise ConfigureError("safety.bad_check_command", command=settings.check_command,
                                     problem=str(exc)) from exc
        managed = relative in state.files
        if not inst.exists(relative) and not managed and not (relative == SH and _wants_sh(inst, host)):
            continue
        base = _base(inst, state, relative, plan, allow_gbk=relative == BAT, block_names=(launchers.NAME,))
        text = base.text
        new_mode = None
        if relative == SH and base.original is None:
            if not env and not check:
                _add(plan, relative, base, None)
                continue
            text, new_mode = launchers.new_sh_script(inst.posix_python, base.style.newline, plan.prefix), 0o755
        style = base.style
        message, missing_text = stop, missing
        if stop.isascii() or not text.isascii():
            pass  # the message fits, or the file already carries non-ASCII text in an encoding that works
        elif relative == BAT and "chcp 65001" not in text.lower():
            # cmd reads batch files in the console code page (936 on Chinese Windows), not UTF-8.
            style = dataclasses.replace(style, encoding="gbk")
        elif relative == PS1 and not style.unicode_with_bom:
            # Windows PowerShell reads a script without BOM in the ANSI code page: keep it ASCII.
            message = lang_message("configure.launcher.stop", "en")
            missing_text = lang_message("configure.launcher.runtime_missing", "en")
        base = dataclasses.replace(base, style=style)
        body = launchers.KINDS[relative][1](env, check, message, missing_text)
        try:
            new_text = launchers.apply(text, base.style.newline, relative, body, plan.prefix)
        except launchers.NoStartLine:
            plan.refusals.append(("configure.refuse.no_start_line", {"file": relative}))
            continue
        if not base.style.can_encode(new_text):
            body = launchers.KINDS[relative][1](env, check, lang_message("configure.launcher.stop", "en"),
                                                lang_message("configure.launcher.runtime_missing", "en"))
            new_text = launchers.apply(text, base.style.newline, relative, body, plan.prefix)
        _add(plan, relative, base, new_text, new_mode)


def _typed_prefix(root: str) -> str:
    from envdoctor.process.invocation import DEFAULT, current

    prefix = current(cwd=root)
    # The hint goes into files of many encodings (GBK .bat, ASCII .ps1): an exotic path is not worth a
    # file envdoctor cannot write back.
    return prefix if prefix.isascii() and "%" not in prefix else DEFAULT


def _wants_sh(inst: Installation, host: str) -> bool:
    """Whether a missing go-webui.sh is made: where the bundle's runtime is a POSIX one, or, for a source
    checkout, where this host is not Windows. A Windows bundle examined from Linux/WSL never gets one
    (its users start go-webui.bat; a .sh would run some other python3)."""
    if inst.bundle_os is not None:
        return inst.bundle_os == "posix"
    return host != "windows"


def _config_patch(inst: Installation, state: State, settings: Settings, plan: Plan) -> None:
    if not inst.config_overrides_env:
        return  # this generation honours is_half from the environment: the launcher block is enough
    if settings.fp16.value is None and CONFIG_PY not in state.files:
        return
    body = None if settings.fp16.value is None else patches.fp16_body(bool(settings.fp16.value))
    _patch(inst, state, plan, CONFIG_PY, patches.CONFIG_ANCHORS, patches.FP16_BLOCK, body,
           "configure.refuse.anchor_fp16")


def _sv_patch(inst: Installation, state: State, settings: Settings, plan: Plan) -> None:
    mode = settings.sv.value
    if not inst.has_sv:
        if mode in ("cpu", "off"):
            plan.notes.append(("configure.note.no_sv", {"generation": inst.generation}))
        return
    wanted = mode if mode in ("cpu", "off") else None
    if wanted is None and SV_PY not in state.files:
        return
    body = None if wanted is None else patches.sv_body(wanted)
    _patch(inst, state, plan, SV_PY, patches.SV_ANCHORS, patches.SV_BLOCK, body, "configure.refuse.anchor_sv")


def _g2pw_patch(inst: Installation, state: State, settings: Settings, plan: Plan) -> None:
    wanted = settings.g2pw.value
    if not inst.exists(G2PW_PY) and G2PW_PY not in state.files:
        if wanted == "cpu":
            plan.notes.append(("configure.note.no_g2pw", {"file": G2PW_PY}))
        return
    if wanted != "cpu" and G2PW_PY not in state.files:
        return
    body = patches.g2pw_body("cpu") if wanted == "cpu" else None
    _patch(inst, state, plan, G2PW_PY, patches.G2PW_ANCHORS, patches.G2PW_BLOCK, body,
           "configure.refuse.anchor_g2pw")


def _patch(inst: Installation, state: State, plan: Plan, relative: str, anchors: Tuple[patches.Anchor, ...],
           block: str, body: Optional[List[str]], refusal: str) -> None:
    """Plan block BLOCK (BODY; None removes it) after the known anchor in RELATIVE, or refuse the file."""
    # A config.py saved by a Chinese Windows editor is GBK: read and written back as GBK (the block is ASCII).
    base = _base(inst, state, relative, plan, allow_gbk=relative.endswith(".py"), block_names=(block,))
    try:
        new_text, version = patches.apply(base.text, base.style.newline, anchors, block, body, plan.prefix)
    except patches.AnchorNotFound:
        plan.refusals.append((refusal, {"file": relative}))
        return
    if version:
        plan.notes.append(("configure.note.patch", {"file": relative, "upstream": version}))
    _add(plan, relative, base, new_text)


def _honesty(inst: Installation, settings: Settings, plan: Plan) -> None:
    if settings.arch_list.value is not None:
        plan.notes.append(("configure.note.arch_list", {"value": settings.arch_list.value}))
    if settings.fp16.value is False:
        plan.notes.append(("configure.note.fp16_off", {}))
    if settings.fp16.value is True:
        plan.notes.append(("configure.note.fp16_on", {}))
    if inst.has_sv and settings.sv.value == "cpu":
        plan.notes.append(("configure.note.sv_cpu", {}))
    if inst.has_sv and settings.sv.value == "off":
        plan.notes.append(("configure.note.sv_off", {}))
    if settings.g2pw.value == "cpu" and inst.exists(G2PW_PY):
        plan.notes.append(("configure.note.g2pw_cpu", {}))
    if settings.device.value is not None:
        plan.notes.append(("configure.note.device", {"device": settings.device.value}))
