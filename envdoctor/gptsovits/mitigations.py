"""Which blocking findings the GPT-SoVITS configuration already works around, for `envdoctor check`.

After `configure --fp16 off --v2pro-sv cpu`, the launcher's pre-launch check still sees a torch build
without kernels for the GPU and would say "will fail", stopping a WebUI that now runs. The check can
ask this module what is configured (files, plus the environment the launcher block has just set) and
report those findings as mitigated instead of blocking. Pure reading; never raises for a missing tree.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

from envdoctor.gptsovits.layout import detect
from envdoctor.gptsovits.patches import G2PW_ENV
from envdoctor.gptsovits.show import effective
from envdoctor.gptsovits.textfile import ConfigureError

# Finding codes; recommend.py (configure's `auto`) uses the same ones. Kept here, the lighter module of
# the two, because every pre-launch check imports this one.
FP16_RISK = "fp16-attention-abort-risk"
NVRTC_OLD = "nvrtc-too-old"
NVRTC_DROPPED = "nvrtc-arch-dropped"  # same failure, the GPU being too old for the CUDA version
G2PW_NO_KERNELS = "g2pw-no-kernels"  # onnxruntime-gpu's CUDA provider has no kernel: G2PW on the CPU avoids it


def mitigated(root: Optional[str], environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """{finding code: how it is worked around} for the WebUI started from ROOT's launcher."""
    env = os.environ if environ is None else environ
    try:
        installation = detect(root)
    except ConfigureError:
        return {}
    rows = effective(installation, env, api=False)  # the launcher starts the WebUI
    result: Dict[str, str] = {}
    fp16 = _winner(rows, "fp16", env, "is_half")
    if fp16 is not None and fp16.lower() == "false":
        # The environment only counts where config.py honours it (or envdoctor's patch made it so).
        honoured = not installation.config_overrides_env or any(r.source == "patch" for r in rows
                                                                if r.setting == "fp16")
        if honoured:
            result[FP16_RISK] = "is_half=False"
    sv = _winner(rows, "v2pro_sv", env, "GPT_SOVITS_SV_MODE")
    if installation.has_sv and sv in ("cpu", "off") and any(r.source == "patch" for r in rows
                                                            if r.setting == "v2pro_sv"):
        result[NVRTC_OLD] = f"v2Pro speaker verification: {sv}"
    g2pw = _winner(rows, "g2pw", env, G2PW_ENV)
    if g2pw is not None and g2pw.strip().lower() == "cpu" and any(r.source == "patch" for r in rows
                                                                  if r.setting == "g2pw"):
        result[G2PW_NO_KERNELS] = "G2PW: cpu"
    return result


def _winner(rows, setting: str, env: Mapping[str, str], variable: str) -> Optional[str]:
    """The WebUI's value: the environment first, then a launcher block, then envdoctor's patch default."""
    if variable in env:
        return env[variable]
    for source in ("launcher", "patch"):
        for row in rows:
            if row.setting == setting and row.source == source:
                return row.value
    return None
