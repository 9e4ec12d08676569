"""`configure --show`: the settings in effect now, and where each one comes from (files only)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Mapping, Optional

from envdoctor.gptsovits import blocks, launchers, patches, yamledit
from envdoctor.gptsovits.layout import BAT, CONFIG_PY, G2PW_PY, PS1, SH, SV_PY, TTS_YAML, Installation
from envdoctor.gptsovits.textfile import read_text


@dataclass(frozen=True)
class Row:
    setting: str  # "fp16" | "v2pro_sv" | "arch_list" | "device"
    value: str
    source: str  # message key configure.where.<source>
    file: str = ""
    applies_to: str = ""  # message key configure.applies.<...>


def _text(inst: Installation, relative: str) -> str:
    if not inst.exists(relative):
        return ""
    try:
        return read_text(inst.path(relative), allow_gbk=relative == BAT or relative.endswith((".py", ".yaml"))).text
    except Exception:
        return ""


def effective(inst: Installation, environ: Optional[Mapping[str, str]] = None, api: bool = True) -> List[Row]:
    """Rows for every setting; API False leaves out tts_infer.yaml, which only api_v2.py reads (the WebUI
    does not), so the pre-launch check neither imports PyYAML nor parses the file."""
    env = os.environ if environ is None else environ
    rows: List[Row] = []
    launcher_env = {name: launchers.read_environment(_text(inst, name)) for name in (BAT, PS1, SH)}
    # FP16
    for name, values in launcher_env.items():
        if "is_half" in values:
            rows.append(Row("fp16", values["is_half"], "launcher", name, "webui"))
    config_text = _text(inst, CONFIG_PY)
    patch = blocks.body_of(config_text, patches.FP16_BLOCK)
    if patch:
        match = re.search(r'os\.environ\.get\("is_half", "(\w+)"\)', patch)
        rows.append(Row("fp16", match.group(1) if match else "?", "patch", CONFIG_PY, "webui"))
    if "is_half" in env:
        rows.append(Row("fp16", env["is_half"], "environment", "", "webui"))
    try:
        custom = yamledit.current(_text(inst, TTS_YAML)) if api and inst.exists(TTS_YAML) else {}
    except yamledit.YamlMalformed:
        custom = {}
    if "is_half" in custom:
        rows.append(Row("fp16", yamledit.scalar(custom["is_half"]), "yaml", TTS_YAML, "api"))
    if inst.config_overrides_env and not patch:
        # The unpatched config.py picks is_half per GPU and ignores what a launcher or the shell set:
        # showing those values as in effect would claim FP16 off while the WebUI runs it on.
        rows = [Row(r.setting, r.value, r.source + "_overridden", r.file, r.applies_to)
                if r.setting == "fp16" and r.applies_to == "webui" and r.source in ("launcher", "environment") else r
                for r in rows]
        rows.append(Row("fp16", "auto", "upstream_autodtype", CONFIG_PY, "webui"))
    elif not any(r.setting == "fp16" and r.applies_to == "webui" for r in rows):
        source = "upstream_autodtype" if inst.config_overrides_env else "upstream_default"
        rows.append(Row("fp16", "auto" if inst.config_overrides_env else "True", source, CONFIG_PY, "webui"))
    # Speaker verification
    if inst.has_sv:
        found = False
        for name, values in launcher_env.items():
            if patches.SV_ENV in values:
                rows.append(Row("v2pro_sv", values[patches.SV_ENV], "launcher", name, "all"))
                found = True
        sv_patch = blocks.body_of(_text(inst, SV_PY), patches.SV_BLOCK)
        if sv_patch:
            match = re.search(r'os\.environ\.get\("' + patches.SV_ENV + r'", "(\w+)"\)', sv_patch)
            rows.append(Row("v2pro_sv", match.group(1) if match else "?", "patch", SV_PY, "all"))
            found = True
        if not found:
            rows.append(Row("v2pro_sv", "on", "upstream_no_switch", SV_PY, "all"))
    else:
        rows.append(Row("v2pro_sv", "-", "not_in_version", "", ""))
    # G2PW (Chinese text frontend): onnxruntime's CUDA provider when it offers one, unless patched
    g2pw_patch = blocks.body_of(_text(inst, G2PW_PY), patches.G2PW_BLOCK)
    if g2pw_patch:
        match = re.search(r'os\.environ\.get\("' + patches.G2PW_ENV + r'", "(\w+)"\)', g2pw_patch)
        rows.append(Row("g2pw", match.group(1) if match else "?", "patch", G2PW_PY, "all"))
        if patches.G2PW_ENV in env:
            rows.append(Row("g2pw", env[patches.G2PW_ENV], "environment", "", "all"))
    elif inst.exists(G2PW_PY):
        rows.append(Row("g2pw", "on", "upstream_no_switch", G2PW_PY, "all"))
    # Arch list
    for name, values in launcher_env.items():
        if "TORCH_CUDA_ARCH_LIST" in values:
            rows.append(Row("arch_list", values["TORCH_CUDA_ARCH_LIST"], "launcher", name, "extensions"))
    if "TORCH_CUDA_ARCH_LIST" in env:
        rows.append(Row("arch_list", env["TORCH_CUDA_ARCH_LIST"], "environment", "", "extensions"))
    if not any(r.setting == "arch_list" for r in rows):
        rows.append(Row("arch_list", "-", "unset", "", "extensions"))
    # Device
    if "device" in custom:
        rows.append(Row("device", str(custom["device"]), "yaml", TTS_YAML, "api"))
    rows.append(Row("device", "auto", "upstream_webui_device", "", "webui"))
    return _merge(rows)


def _merge(rows: List[Row]) -> List[Row]:
    """One row per launcher setting, listing every launcher that sets the same value."""
    merged: List[Row] = []
    for row in rows:
        twin = next((m for m in merged if row.source == "launcher" and m.source == "launcher"
                     and (m.setting, m.value) == (row.setting, row.value)), None)
        if twin is None:
            merged.append(row)
        else:
            merged[merged.index(twin)] = Row(twin.setting, twin.value, twin.source, f"{twin.file}, {row.file}",
                                             twin.applies_to)
    return merged
