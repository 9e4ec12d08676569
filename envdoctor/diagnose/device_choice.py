"""Which GPU GPT-SoVITS will infer on, as its own config.py decides (a pure function of the facts).

The check judges that device, not every GPU in the machine: a GTX 1080 beside an RTX 3060 does not
stop GPT-SoVITS when config.py picks the 3060 and torch covers it. The generations of config.py and
their rules are data in matrices/gptsovits.yaml (device_selection, with sources); the rules are here:

- per-gpu-2025-06b (upstream since 7d70852): per visible GPU, mem_gb = MiB/1024 + 0.4; CPU when
  mem_gb < 4 or sm < 5.3; FP32 for sm 6.1 and the GTX 16xx (name matches 16\\d\\d and sm 7.5); FP16 for
  sm > 6.1; CPU otherwise (5.3-6.0). infer_device = max over (sm, mem_gb), CPU counting as (0, 0).
- per-gpu-2025-06a (05d4421, the same day): CPU when mem_gb < 4; FP16 when (sm >= 7.0 and sm != 7.5)
  or 5.3 <= sm <= 6.0; CPU otherwise.
- first-visible (2024 .. 2025-06-05 bundles): CUDA device 0, whatever its memory or arch.

The WebUI runs inference in a child process whose CUDA_VISIBLE_DEVICES is the WebUI's GPU-number box
(default: the usable GPU numbers joined by '-', or '0' when config.py found none) and which then
uses "cuda" whenever a GPU is visible. So where config.py finds no usable GPU, the WebUI's inference
still runs on GPU 0, in FP32: that GPU is judged (and api.py, which follows infer_device, runs on the
CPU). Where several GPUs are usable, the box's default names them all; the device judged is
config.py's choice, and the others are told apart (gpu-other-lacks-kernels) rather than blocking.

CUDA_VISIBLE_DEVICES (this machine's, where the GPUs are this machine's): comma-separated indices or
UUID prefixes, in that order; CUDA stops at the first entry it cannot resolve. Indices are taken as
NVML's (PCI bus) order, which is CUDA's with CUDA_DEVICE_ORDER=PCI_BUS_ID and on machines whose GPUs
are alike; where the order could differ (mixed GPUs, no PCI_BUS_ID) an index list is still taken as
NVML's, and the evidence says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from envdoctor.model import Gpu, Line

RULE_FIRST_VISIBLE = "first-visible"
RULE_2025_06A = "per-gpu-2025-06a"
RULE_2025_06B = "per-gpu-2025-06b"

# Why a GPU is not the one GPT-SoVITS infers on (catalogue: device.reason.<reason>).
HIDDEN = "hidden"  # CUDA_VISIBLE_DEVICES leaves it out
SMALL = "small"  # under 4 GB as config.py counts it
OLD_ARCH = "old-arch"  # an arch config.py sends to the CPU
OTHER_CHOSEN = "other-chosen"  # config.py prefers another GPU (higher sm, then more memory)
NOT_FIRST = "not-first"  # first-visible: only CUDA device 0 is used

_SIXTEEN = re.compile(r"16\d{2}")


@dataclass(frozen=True)
class Generation:
    """One row of gptsovits.yaml device_selection."""

    name: str
    rule: str
    markers: Tuple[str, ...]
    source: str


@dataclass(frozen=True)
class GpuUse:
    gpu: Gpu
    usable: bool  # config.py would run on it (it is visible, big enough, of an arch it accepts)
    fp16: bool
    reason: str = ""  # why it is not used (HIDDEN, SMALL, OLD_ARCH, OTHER_CHOSEN, NOT_FIRST)


@dataclass(frozen=True)
class DeviceChoice:
    """GPT-SoVITS' device for this machine. `known` False: config.py's generation is unknown (no
    GPT-SoVITS folder, or a config.py none of the generations matches): every visible GPU is judged."""

    known: bool
    generation: Optional[str]
    judged: Tuple[Gpu, ...]  # the GPU(s) the verdict is about (empty: GPT-SoVITS runs on the CPU)
    config_device: Optional[Gpu]  # config.py's infer_device; None for the CPU
    is_half: bool  # config.py's FP16 choice (any usable GPU does FP16)
    uses: Tuple[GpuUse, ...] = ()
    webui_gpu0: bool = False  # config.py chose the CPU, the WebUI's inference still runs on GPU 0 (FP32)
    evidence: Tuple[str, ...] = ()

    @property
    def on_cpu(self) -> bool:
        return self.known and not self.judged


def generations(rows: Sequence[Mapping]) -> List[Generation]:
    """The matrix rows as Generations (malformed rows are left out: the schema rejects them first)."""
    out = []
    for row in rows or ():
        try:
            source = row["source"]
            text = source.get("url", "") if isinstance(source, dict) else str(source)
            out.append(Generation(str(row["generation"]), str(row["rule"]),
                                  tuple(str(m) for m in row["markers"]), text))
        except (KeyError, TypeError, AttributeError):
            continue
    return out


def detect(config_lines: Sequence[str], known: Sequence[Generation]) -> Optional[Generation]:
    """The first generation whose markers all appear in config.py's lines (whitespace ignored)."""
    text = "".join("".join(line.split()) for line in config_lines)
    for generation in known:
        if all("".join(marker.split()) in text for marker in generation.markers):
            return generation
    return None


def visible_gpus(gpus: Sequence[Gpu], env: Mapping[str, str]) -> Tuple[Tuple[Gpu, ...], Tuple[str, ...]]:
    """The GPUs a CUDA process sees under CUDA_VISIBLE_DEVICES, in CUDA's order, and evidence lines."""
    if "CUDA_VISIBLE_DEVICES" not in env:
        return tuple(gpus), ()
    raw = env["CUDA_VISIBLE_DEVICES"]
    entries = [part.strip() for part in raw.split(",")]
    if any(_unjudgeable(entry, gpus) for entry in entries):
        # MIG instances, or UUIDs where the GPU facts carry none (ENVDOCTOR_GPUS): which GPUs are meant is
        # not known here, so the variable is not applied (every GPU stays judged).
        return tuple(gpus), (Line(f"CUDA_VISIBLE_DEVICES={raw!r}: names GPUs these facts cannot match; not applied",
                                  "line.visible_unmatched", value=repr(raw)),)
    seen: List[Gpu] = []
    for entry in entries:
        found = _resolve(entry, gpus)
        if found is None or found in seen:
            break  # CUDA ignores the rest of the list after an entry it cannot resolve
        seen.append(found)
    shown = ", ".join(str(g.index) for g in seen)
    evidence: Tuple[str, ...] = (
        Line(f"CUDA_VISIBLE_DEVICES={raw!r}: visible {shown}", "line.visible", value=repr(raw), gpus=shown) if seen
        else Line(f"CUDA_VISIBLE_DEVICES={raw!r}: visible none", "line.visible_none", value=repr(raw)),)
    return tuple(seen), evidence


def _unjudgeable(entry: str, gpus: Sequence[Gpu]) -> bool:
    upper = entry.upper()
    return upper.startswith("MIG-") or (upper.startswith("GPU-") and not any(g.uuid for g in gpus))


def _resolve(entry: str, gpus: Sequence[Gpu]) -> Optional[Gpu]:
    if entry.isdigit():
        return next((g for g in gpus if g.index == int(entry)), None)
    if entry.upper().startswith("GPU-"):
        matches = [g for g in gpus if g.uuid and g.uuid.upper().startswith(entry.upper())]
        return matches[0] if len(matches) == 1 else None
    return None


def choose(gpus: Sequence[Gpu], capability, generation: Optional[Generation], env: Mapping[str, str]
           ) -> DeviceChoice:
    """GPT-SoVITS' device. CAPABILITY(gpu) -> (major, minor) or None (NVML's, else the name table)."""
    visible, evidence = visible_gpus(gpus, env)
    hidden = [GpuUse(g, False, False, HIDDEN) for g in gpus if g not in visible]
    if generation is None:
        return DeviceChoice(False, None, visible, None, True, tuple(hidden), evidence=evidence)
    evidence += (f"GPT-SoVITS config.py: {generation.name} ({generation.source})",)
    # Which GPU is CUDA device 0 among several: NVML's first only in PCI bus order (CUDA's default
    # order puts the fastest first); GPUs of one model make the question moot.
    order_known = (env.get("CUDA_DEVICE_ORDER", "").strip().upper() == "PCI_BUS_ID"
                   or len({g.name for g in gpus}) <= 1)
    if generation.rule == RULE_FIRST_VISIBLE:
        if not visible:
            return DeviceChoice(True, generation.name, (), None, False, tuple(hidden), evidence=evidence)
        if not order_known and len(visible) > 1:  # device 0 could be any of them: each is judged
            uses = tuple(GpuUse(g, True, True) for g in visible) + tuple(hidden)
            unknown = Line("CUDA device 0 is not known (set CUDA_DEVICE_ORDER=PCI_BUS_ID)", "line.device0_unknown")
            return DeviceChoice(True, generation.name, visible, None, True, uses, evidence=evidence + (unknown,))
        first = visible[0]
        listed = [GpuUse(first, True, True)] + [GpuUse(g, False, False, NOT_FIRST) for g in visible[1:]] + hidden
        judged = [first]
        if "CUDA_VISIBLE_DEVICES" in env:  # the WebUI's inference process gets number 0 = physical GPU 0
            for gpu in _webui_gpu(0, gpus, True):
                if gpu not in judged:
                    judged.append(gpu)
                    evidence += (_webui_sees(0, gpu),)
        return DeviceChoice(True, generation.name, tuple(judged), first, True, tuple(listed), evidence=evidence)
    per_gpu: List[Tuple[GpuUse, float, float]] = []
    for gpu in visible:
        cc = capability(gpu)
        if cc is None:  # nothing to say what config.py does with it: judged, as before
            per_gpu.append((GpuUse(gpu, True, True), 99.0, 0.0))
            continue
        per_gpu.append(_per_gpu(gpu, cc, generation.rule))
    usable = [(use, sm, mem) for use, sm, mem in per_gpu if use.usable]
    is_half = any(use.fp16 for use, _, _ in usable)
    if not usable:
        uses = tuple(use for use, _, _ in per_gpu) + tuple(hidden)
        if not visible:
            return DeviceChoice(True, generation.name, (), None, False, uses, evidence=evidence)
        # The WebUI's GPU-number box defaults to "0": its inference process sees GPU 0 and uses it (FP32).
        # Without CUDA_VISIBLE_DEVICES, GPU 0 is CUDA's first, not known among unlike GPUs outside PCI order.
        webui = _webui_gpu(0, gpus, order_known or "CUDA_VISIBLE_DEVICES" in env)
        return DeviceChoice(True, generation.name, webui, None, False, uses, webui_gpu0=True,
                            evidence=evidence + (_webui_fp32(webui),))
    best = usable[0]
    for item in usable[1:]:  # max() keeps the first of equal keys, as upstream's does
        if (item[1], item[2]) > (best[1], best[2]):
            best = item
    chosen = best[0].gpu
    uses = tuple(use if use.gpu == chosen or not use.usable else GpuUse(use.gpu, True, use.fp16, OTHER_CHOSEN)
                 for use, _, _ in per_gpu) + tuple(hidden)
    judged = [chosen]
    if len(usable) == 1 and "CUDA_VISIBLE_DEVICES" in env:
        # The WebUI hands its inference process the chosen GPU's number as CUDA_VISIBLE_DEVICES, which
        # replaces the user's: under CUDA_VISIBLE_DEVICES=1 that number (0) names physical GPU 0.
        for gpu in _webui_gpu(visible.index(chosen), gpus, True):
            if gpu not in judged:
                judged.append(gpu)
                evidence += (_webui_sees(visible.index(chosen), gpu),)
    return DeviceChoice(True, generation.name, tuple(judged), chosen, is_half, uses, evidence=evidence)


def _webui_gpu(ordinal: int, gpus: Sequence[Gpu], order_known: bool) -> Tuple[Gpu, ...]:
    """The GPU the WebUI's inference process gets for the number ORDINAL (CUDA_VISIBLE_DEVICES=ORDINAL,
    the user's own value replaced): GPU ORDINAL, indices read as CUDA_VISIBLE_DEVICES' are (NVML's order);
    every GPU where CUDA's own order decides and is not known."""
    every = tuple(sorted(gpus, key=lambda g: g.index))
    if not order_known and len(every) > 1:
        return every
    return (every[ordinal],) if ordinal < len(every) else every[:1]


def _per_gpu(gpu: Gpu, cc: Tuple[int, int], rule: str) -> Tuple[GpuUse, float, float]:
    """(use, sm, mem_gb) as get_device_dtype_sm returns them; CPU counts as (0, 0)."""
    sm = cc[0] + cc[1] / 10.0
    # Unknown memory is taken as enough: a card is never sent to the CPU on a guess.
    mem_gb = gpu.memory_total_mib / 1024 + 0.4 if gpu.memory_total_mib is not None else 1e9
    if mem_gb < 4:
        return GpuUse(gpu, False, False, SMALL), 0.0, 0.0
    if rule == RULE_2025_06A:
        if (sm >= 7.0 and sm != 7.5) or 5.3 <= sm <= 6.0:
            return GpuUse(gpu, True, True), sm, mem_gb
        return GpuUse(gpu, False, False, OLD_ARCH), 0.0, 0.0
    if sm < 5.3:
        return GpuUse(gpu, False, False, OLD_ARCH), 0.0, 0.0
    sixteen = bool(_SIXTEEN.search(gpu.name)) and sm == 7.5
    if sm == 6.1 or sixteen:
        return GpuUse(gpu, True, False), sm, mem_gb
    if sm > 6.1:
        return GpuUse(gpu, True, True), sm, mem_gb
    return GpuUse(gpu, False, False, OLD_ARCH), 0.0, 0.0


def environment(env: Mapping[str, str]) -> Dict[str, str]:
    """The variables the choice reads, as a fact (absent when unset)."""
    return {name: env[name] for name in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER") if name in env}


def _webui_sees(number: int, gpu: Gpu) -> Line:
    return Line(f"webui: its inference process sees GPU {number} = {gpu.name}", "line.webui_sees",
                number=number, gpu=gpu.name)


def _webui_fp32(gpus: Sequence[Gpu]) -> Line:
    names = ", ".join(g.name for g in gpus)
    return Line(f"webui: GPU 0 ({names}) in FP32", "line.webui_fp32", gpus=names)
