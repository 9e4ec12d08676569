"""Anchored patches: a knob added where the installed GPT-SoVITS code has none.

Data, not logic: each entry names a file, the upstream version it was read from, and the exact text
(the anchor) after which envdoctor's block goes. A patch applies only when exactly one known anchor is
found in the file (newlines compared in the file's own style); otherwise it is refused and the file is
left alone. The block itself is envdoctor's own code and carries the default chosen by configure, so
every entry point (webui.py, inference_webui.py, api_v2.py) sees it; the environment still overrides.

Anchors were read from upstream RVC-Boss/GPT-SoVITS:
- config.py, "autodtype" (commits 05d4421 2025-06-05 .. main 2026-08): the two lines that replace the
  env is_half with the per-GPU choice.
- GPT_SoVITS/sv.py: class SV as of 921ac6c (2025-06-04, CRLF, first v2Pro release, the
  v2pro-20250604 bundle), 298ebb0 (same day, path fix) and 6fdc67c (2025-06-17 .. main 2026-08, ruff).
- GPT_SoVITS/text/g2pw/onnx_api.py, the only file that creates G2PW's onnxruntime session (the
  G2PWOnnxConverter class): its `import numpy as np` / `import onnxruntime` pair, the same text from
  10e589f (2024-08-02, GPT-SoVITS v2) to main (ba8de9b, 2026-04). The block rebinds the module's
  name `onnxruntime` before the class is defined, so both session styles upstream has used (a
  try/except around providers=["CUDAExecutionProvider", ...] until 2025-06, `if "CUDAExecutionProvider"
  in onnxruntime.get_available_providers()` since 90ebefa) create a CPU session, and no CUDA session
  is ever made on a GPU the CUDA provider has no kernel for. No other module's onnxruntime changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from envdoctor.gptsovits import blocks

FP16_BLOCK = "fp16"
SV_BLOCK = "v2pro-sv"
SV_ENV = "GPT_SOVITS_SV_MODE"
G2PW_BLOCK = "g2pw"
G2PW_ENV = "GPT_SOVITS_G2PW_DEVICE"


@dataclass(frozen=True)
class Anchor:
    target: str
    upstream: str  # the upstream version the text was read from
    text: str  # LF newlines; matched after conversion to the file's newline


CONFIG_ANCHORS = (
    Anchor("config.py", "05d4421 (2025-06-05) .. main (2026-08)",
           "infer_device = max(tmp, key=lambda x: (x[2], x[3]))[0]\n"
           "is_half = any(dtype == torch.float16 for _, dtype, _, _ in tmp)\n"),
)

_SV_INIT_COMPACT = (
    "class SV:\n"
    "    def __init__(self,device,is_half):\n"
    "        pretrained_state = torch.load(sv_path, map_location='cpu', weights_only=False)\n"
    "        embedding_model = ERes2NetV2(baseWidth=24,scale=4,expansion=4)\n"
    "        embedding_model.load_state_dict(pretrained_state)\n"
    "        embedding_model.eval()\n"
    "        self.embedding_model=embedding_model\n"
    "        if is_half == False:\n"
    "            self.embedding_model=self.embedding_model.to(device)\n"
    "        else:\n"
    "            self.embedding_model=self.embedding_model.half().to(device)\n"
    "        self.is_half=is_half\n"
    "\n"
)
_SV_EMBED_COMPACT = (
    "        with torch.no_grad():\n"
    "            if self.is_half==True:wav=wav.half()\n"
    "            feat = torch.stack([Kaldi.fbank(wav0.unsqueeze(0), num_mel_bins=80, sample_frequency=16000, "
    "dither=0) for wav0 in wav])\n"
    "            sv_emb = self.embedding_model.forward3(feat)\n"
    "        return sv_emb"
)

SV_ANCHORS = (
    Anchor("GPT_SoVITS/sv.py", "921ac6c (2025-06-04)",
           _SV_INIT_COMPACT + "    def compute_embedding3(self,wav):#(1,x)#-1~1\n" + _SV_EMBED_COMPACT),
    Anchor("GPT_SoVITS/sv.py", "298ebb0 (2025-06-04)",
           _SV_INIT_COMPACT + "    def compute_embedding3(self,wav):\n" + _SV_EMBED_COMPACT),
    Anchor("GPT_SoVITS/sv.py", "6fdc67c (2025-06-17) .. main (2026-08)",
           "class SV:\n"
           "    def __init__(self, device, is_half):\n"
           "        pretrained_state = torch.load(sv_path, map_location=\"cpu\", weights_only=False)\n"
           "        embedding_model = ERes2NetV2(baseWidth=24, scale=4, expansion=4)\n"
           "        embedding_model.load_state_dict(pretrained_state)\n"
           "        embedding_model.eval()\n"
           "        self.embedding_model = embedding_model\n"
           "        if is_half == False:\n"
           "            self.embedding_model = self.embedding_model.to(device)\n"
           "        else:\n"
           "            self.embedding_model = self.embedding_model.half().to(device)\n"
           "        self.is_half = is_half\n"
           "\n"
           "    def compute_embedding3(self, wav):\n"
           "        with torch.no_grad():\n"
           "            if self.is_half == True:\n"
           "                wav = wav.half()\n"
           "            feat = torch.stack(\n"
           "                [Kaldi.fbank(wav0.unsqueeze(0), num_mel_bins=80, sample_frequency=16000, dither=0) "
           "for wav0 in wav]\n"
           "            )\n"
           "            sv_emb = self.embedding_model.forward3(feat)\n"
           "        return sv_emb"),
)


G2PW_ANCHORS = (
    Anchor("GPT_SoVITS/text/g2pw/onnx_api.py", "10e589f (2024-08-02) .. main ba8de9b (2026-04)",
           "import numpy as np\n"
           "import onnxruntime\n"),
)


class AnchorNotFound(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def fp16_body(is_half: bool) -> List[str]:
    default = "True" if is_half else "False"
    return [
        "# An explicit is_half (the environment, else the default envdoctor chose for this machine) wins",
        "# over the per-GPU choice above; half precision stays off on the CPU, where it does not work.",
        f'is_half = os.environ.get("is_half", "{default}").strip().lower() == "true" and infer_device.type != "cpu"',
        'os.environ["is_half"] = str(is_half)  # inference_webui*.py read it from the environment',
    ]


def sv_body(mode: str) -> List[str]:
    return [
        f"# Speaker-verification switch: {SV_ENV} = on | cpu | off (default chosen by envdoctor).",
        "# cpu: the ERes2NetV2 model and its fbank run on the CPU in fp32, so no run-time (NVRTC) kernel",
        "# is compiled for the GPU; off: no model, a zero embedding (v2Pro voices resemble the reference less).",
        f'_envdoctor_sv_mode = os.environ.get("{SV_ENV}", "{mode}").strip().lower()',
        'if _envdoctor_sv_mode in ("cpu", "off"):',
        "    _EnvdoctorUpstreamSV = SV",
        "",
        "    class SV(_EnvdoctorUpstreamSV):",
        "        def __init__(self, device, is_half):",
        "            self.envdoctor_half = is_half",
        '            if _envdoctor_sv_mode == "off":',
        "                self.embedding_model = torch.nn.Module()  # callers move it between devices",
        "                self.is_half = False",
        "                return",
        '            super().__init__("cpu", False)',
        "",
        "        def compute_embedding3(self, wav):",
        "            dtype = torch.float16 if self.envdoctor_half else torch.float32",
        '            if _envdoctor_sv_mode == "off":',
        "                return torch.zeros((wav.shape[0], 20480), dtype=dtype, device=wav.device)",
        "            sv_emb = super().compute_embedding3(wav.detach().float().cpu())",
        "            return sv_emb.to(device=wav.device, dtype=dtype)",
    ]


def g2pw_body(mode: str) -> List[str]:
    return [
        f"# G2PW device switch: {G2PW_ENV} = cuda | cpu (default chosen by envdoctor).",
        "# cpu: G2PW (Chinese polyphones -> pinyin) runs on onnxruntime's CPU provider. onnxruntime-gpu's",
        "# CUDA provider has no kernel for some GPUs (B200/B300/GB10 with 1.31.1), and Chinese synthesis",
        "# fails there. `onnxruntime` is rebound in this module only: G2PW's session is made here.",
        f'if os.environ.get("{G2PW_ENV}", "{mode}").strip().lower() == "cpu":',
        "    _envdoctor_onnxruntime = onnxruntime",
        "",
        "    class _EnvdoctorCpuOnnxruntime:",
        "        def __getattr__(self, name):",
        "            return getattr(_envdoctor_onnxruntime, name)",
        "",
        "        @staticmethod",
        "        def get_available_providers():",
        '            return ["CPUExecutionProvider"]',
        "",
        "        @staticmethod",
        "        def InferenceSession(*args, **kwargs):",
        '            kwargs["providers"] = ["CPUExecutionProvider"]',
        "            return _envdoctor_onnxruntime.InferenceSession(*args, **kwargs)",
        "",
        "    onnxruntime = _EnvdoctorCpuOnnxruntime()",
    ]


def apply(text: str, newline: str, anchors: Tuple[Anchor, ...], name: str,
          body: Optional[List[str]], prefix: str = "envdoctor") -> Tuple[str, str]:
    """TEXT with block NAME (BODY) after the one known anchor found; (new text, upstream version).

    BODY None removes the block. Idempotent: an existing block is replaced, never doubled.
    Raises AnchorNotFound when no known anchor (or more than one place) matches.
    """
    base = blocks.strip(text, name)
    if body is None:
        return base, ""
    for anchor in anchors:
        needle = anchor.text.replace("\n", newline)
        if base.count(needle) != 1:
            continue
        position = base.index(needle) + len(needle)
        lines = blocks.wrap(name, "#", body, prefix)
        if needle.endswith(newline):
            insert = newline.join(lines) + newline
        elif base.startswith(newline, position):
            position += len(newline)
            insert = newline.join(lines) + newline
        else:  # the anchor ends the file without a final newline
            insert = newline + newline.join(lines)
        return base[:position] + insert + base[position:], anchor.upstream
    raise AnchorNotFound(anchors[0].target)
