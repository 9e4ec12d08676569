"""The lines of a GPT-SoVITS folder's config.py that decide its inference device (a fact, not a judgement).

The diagnosis tells config.py's generation apart by these lines (matrices/gptsovits.yaml
device_selection) and judges the GPU that generation picks; a support report shows them as they are.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

from envdoctor.fileio.safeio import read_head

# Names upstream's device choice uses in every generation (config.py, 2024-01 .. 2026-08).
_WORDS = ("infer_device", "get_device_dtype_sm", "sm_version", "mem_gb", "is_16_series", "get_device_name",
          "is_available", "dtype ==")
_MAX_LINES = 80
_MAX_LINE = 240


def device_lines(root: Optional[str]) -> Tuple[str, ...]:
    """config.py's device-choice lines under ROOT (stripped); () when ROOT is no GPT-SoVITS folder."""
    folder = os.path.abspath(root or os.getcwd())
    if not os.path.isfile(os.path.join(folder, "webui.py")):
        return ()
    try:
        text = read_head(os.path.join(folder, "config.py"), 4 * 1024 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return ()
    lines = [line.strip()[:_MAX_LINE] for line in text.splitlines()
             if any(word in line for word in _WORDS) and not line.strip().startswith("#")]
    return tuple(lines[:_MAX_LINES])
