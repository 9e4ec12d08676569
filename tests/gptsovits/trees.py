"""GPT-SoVITS test trees for `envdoctor configure`, written by the team.

They reproduce the *structure* of upstream generations (which files exist, which lines decide FP16,
the shape of class SV, launcher lines, encodings and line endings) with our own minimal code, plus a
stand-in `torch` that runs that code without a GPU: it keeps tensors as (shape, dtype, device) and can
simulate the memo's NVRTC failure when the speaker-verification fbank runs on the GPU.

Generations:
- "v2-2024": a Windows bundle like v2-240821: config.py honours env is_half, no sv.py, GBK/CRLF .bat.
- "v2pro-2025": like v2pro-20250604: same config.py logic, sv.py with CRLF and the compact class SV.
- "main": upstream main: config.py picks the dtype per GPU and overwrites is_half; ruff-formatted sv.py.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

GENERATIONS = ("v2-2024", "v2pro-2025", "main")

STANDIN_TORCH = r'''
"""Stand-in torch for GPT-SoVITS test trees: tensors are (shape, dtype, device) only."""
import os as _os


class _DType:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name


float16 = _DType("float16")
float32 = _DType("float32")
dtype = _DType  # upstream config.py names torch.dtype in an annotation evaluated at import


class device:
    def __init__(self, spec="cpu"):
        kind, _, index = str(spec).partition(":")
        self.type = kind
        self.index = int(index) if index else None

    def __str__(self):
        return self.type if self.index is None else "%s:%d" % (self.type, self.index)

    __repr__ = __str__

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


class _Cuda:
    def is_available(self):
        return _os.environ.get("STANDIN_CUDA", "1") == "1"

    def device_count(self):
        return 1 if self.is_available() else 0

    def get_device_capability(self, index=0):
        major, minor = _os.environ.get("STANDIN_CC", "12.0").split(".")
        return int(major), int(minor)

    def get_device_name(self, index=0):
        return _os.environ.get("STANDIN_GPU", "NVIDIA GeForce RTX 5060 Ti")

    def get_device_properties(self, index=0):
        class _Props:
            total_memory = 16 * 1024 ** 3
        return _Props()


cuda = _Cuda()


def _device(value):
    result = value if isinstance(value, device) else device(value)
    if result.type == "cuda" and not cuda.is_available():
        raise RuntimeError("Torch not compiled with CUDA enabled")
    return result


class Tensor:
    def __init__(self, shape, dtype=None, device="cpu"):
        self.shape = tuple(shape)
        self.dtype = dtype or float32
        self.device = _device(device)

    def to(self, *args, device=None, dtype=None):
        for arg in args:
            if isinstance(arg, _DType):
                dtype = arg
            else:
                device = arg
        return Tensor(self.shape, dtype or self.dtype, self.device if device is None else device)

    def half(self):
        return self.to(dtype=float16)

    def float(self):
        return self.to(dtype=float32)

    def cpu(self):
        return self.to(device="cpu")

    def detach(self):
        return self

    def unsqueeze(self, dim):
        shape = list(self.shape)
        shape.insert(dim, 1)
        return Tensor(shape, self.dtype, self.device)

    def __iter__(self):
        for _ in range(self.shape[0]):
            yield Tensor(self.shape[1:], self.dtype, self.device)


def zeros(shape, dtype=None, device="cpu"):
    return Tensor(shape, dtype, device)


def stack(tensors):
    first = tensors[0]
    return Tensor((len(tensors),) + first.shape, first.dtype, first.device)


def load(path, map_location=None, weights_only=None):
    return {"loaded_from": path}


class no_grad:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class nn:
    class Module:
        def __init__(self):
            self.device = device("cpu")
            self.dtype = float32

        def to(self, target):
            self.device = _device(target)
            return self

        def half(self):
            self.dtype = float16
            return self

        def cpu(self):
            return self.to("cpu")

        def eval(self):
            return self

        def load_state_dict(self, state):
            return None
'''

KALDI = '''"""Test tree stand-in for GPT_SoVITS/eres2net/kaldi.py: records where fbank ran."""
import os

import torch

CALLS = []


def fbank(waveform, num_mel_bins=23, sample_frequency=16000.0, dither=0.0):
    CALLS.append({"device": str(waveform.device), "dtype": repr(waveform.dtype)})
    if waveform.device.type == "cuda" and os.environ.get("STANDIN_NVRTC_TOO_OLD") == "1":
        # What torch.fft.rfft(...).abs() raises when NVRTC does not know the GPU (the memo's failure 2).
        raise RuntimeError("nvrtc: error: invalid value for --gpu-architecture (-arch)")
    return torch.zeros((98, num_mel_bins), dtype=waveform.dtype, device=waveform.device)
'''

ERES2NET = '''"""Test tree stand-in for ERes2NetV2: checks input and model agree, returns a 20480-wide embedding."""
import torch


class ERes2NetV2(torch.nn.Module):
    def __init__(self, baseWidth=32, scale=2, expansion=2):
        super().__init__()

    def forward3(self, feat):
        if str(feat.device) != str(self.device) or feat.dtype is not self.dtype:
            raise RuntimeError("input on %s/%r, model on %s/%r" % (feat.device, feat.dtype, self.device, self.dtype))
        return torch.zeros((feat.shape[0], 20480), dtype=self.dtype, device=self.device)
'''

SV_HEADER = '''import os
import sys

import torch

sys.path.append(f"{os.getcwd()}/GPT_SoVITS/eres2net")
sv_path = "GPT_SoVITS/pretrained_models/sv/pretrained_eres2netv2w24s4ep4.ckpt"
from ERes2NetV2 import ERes2NetV2  # noqa: E402
import kaldi as Kaldi  # noqa: E402


'''

# class SV as upstream main has it (the shape the anchor must match exactly), typed here independently.
SV_CLASS_MAIN = '''class SV:
    def __init__(self, device, is_half):
        pretrained_state = torch.load(sv_path, map_location="cpu", weights_only=False)
        embedding_model = ERes2NetV2(baseWidth=24, scale=4, expansion=4)
        embedding_model.load_state_dict(pretrained_state)
        embedding_model.eval()
        self.embedding_model = embedding_model
        if is_half == False:
            self.embedding_model = self.embedding_model.to(device)
        else:
            self.embedding_model = self.embedding_model.half().to(device)
        self.is_half = is_half

    def compute_embedding3(self, wav):
        with torch.no_grad():
            if self.is_half == True:
                wav = wav.half()
            feat = torch.stack(
                [Kaldi.fbank(wav0.unsqueeze(0), num_mel_bins=80, sample_frequency=16000, dither=0) for wav0 in wav]
            )
            sv_emb = self.embedding_model.forward3(feat)
        return sv_emb
'''

# The first v2Pro release's compact class SV (CRLF in that file, no final newline).
SV_CLASS_2025 = '''class SV:
    def __init__(self,device,is_half):
        pretrained_state = torch.load(sv_path, map_location='cpu', weights_only=False)
        embedding_model = ERes2NetV2(baseWidth=24,scale=4,expansion=4)
        embedding_model.load_state_dict(pretrained_state)
        embedding_model.eval()
        self.embedding_model=embedding_model
        if is_half == False:
            self.embedding_model=self.embedding_model.to(device)
        else:
            self.embedding_model=self.embedding_model.half().to(device)
        self.is_half=is_half

    def compute_embedding3(self,wav):#(1,x)#-1~1
        with torch.no_grad():
            if self.is_half==True:wav=wav.half()
            feat = torch.stack([Kaldi.fbank(wav0.unsqueeze(0), num_mel_bins=80, sample_frequency=16000, dither=0) for wav0 in wav])
            sv_emb = self.embedding_model.forward3(feat)
        return sv_emb'''  # noqa: E501 (the compact upstream shape has a 131-character line)

CONFIG_ENV = '''"""Test tree config.py: the generation that takes is_half from the environment (team-written)."""
import os
import sys

import torch

is_half_str = os.environ.get("is_half", "True")
is_half = True if is_half_str.lower() == "true" else False
python_exec = sys.executable or "python"
infer_device = "cuda" if torch.cuda.is_available() else "cpu"
if infer_device == "cuda":
    gpu_name = torch.cuda.get_device_name(0)
    if "1060" in gpu_name or "P40" in gpu_name.upper():
        is_half = False
if infer_device == "cpu":
    is_half = False
'''

CONFIG_AUTODTYPE = '''"""Test tree config.py: the generation that picks the dtype per GPU (team-written)."""
import os
import re
import sys

import torch

is_half_str = os.environ.get("is_half", "True")
is_half = True if is_half_str.lower() == "true" else False
python_exec = sys.executable or "python"


def get_device_dtype_sm(idx):
    if not torch.cuda.is_available():
        return torch.device("cpu"), torch.float32, 0.0, 0.0
    major, minor = torch.cuda.get_device_capability(idx)
    sm = major + minor / 10.0
    if sm == 6.1 or re.search(r"16\\d{2}", torch.cuda.get_device_name(idx)):
        return torch.device(f"cuda:{idx}"), torch.float32, sm, 8.0
    return torch.device(f"cuda:{idx}"), torch.float16, sm, 8.0


tmp = [get_device_dtype_sm(i) for i in range(max(torch.cuda.device_count(), 1))]
infer_device = max(tmp, key=lambda x: (x[2], x[3]))[0]
is_half = any(dtype == torch.float16 for _, dtype, _, _ in tmp)


class Config:
    def __init__(self):
        self.is_half = is_half
        self.infer_device = infer_device
'''

WEBUI = '''"""Test tree webui.py: the path that starts the inference UI, as upstream does it (team-written)."""
import os
import subprocess
import sys

from config import is_half, python_exec

os.environ["is_half"] = str(is_half)
sys.exit(subprocess.call([python_exec, "-s", "GPT_SoVITS/inference_webui.py"] + sys.argv[1:]))
'''

INFERENCE_WEBUI = '''"""Test tree inference_webui.py: reads is_half like upstream, then runs speaker verification."""
import json
import os

import torch

is_half = eval(os.environ.get("is_half", "True")) and torch.cuda.is_available()
device = "cuda" if torch.cuda.is_available() else "cpu"
result = {"is_half": is_half, "device": device, "arch_list": os.environ.get("TORCH_CUDA_ARCH_LIST")}
if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sv.py")):
    from sv import SV

    import kaldi

    model = SV(device, is_half)
    wav = torch.zeros((1, 16000), dtype=torch.float16 if is_half else torch.float32, device=device)
    embedding = model.compute_embedding3(wav)
    result.update(sv_model_device=str(model.embedding_model.device), embedding_device=str(embedding.device),
                  embedding_dtype=repr(embedding.dtype), embedding_shape=list(embedding.shape),
                  fbank_calls=kaldi.CALLS)
print("RESULT " + json.dumps(result))
'''

YAML_MAIN = """custom:
  bert_base_path: GPT_SoVITS/pretrained_models/chinese-roberta-wwm-ext-large
  cnhuhbert_base_path: GPT_SoVITS/pretrained_models/chinese-hubert-base
  device: cuda
  is_half: true
  t2s_weights_path: GPT_SoVITS/pretrained_models/s1v3.ckpt
  version: v2Pro
  vits_weights_path: GPT_SoVITS/pretrained_models/v2Pro/s2Gv2Pro.pth
v1:
  bert_base_path: GPT_SoVITS/pretrained_models/chinese-roberta-wwm-ext-large
  cnhuhbert_base_path: GPT_SoVITS/pretrained_models/chinese-hubert-base
  device: cpu
  is_half: false
  t2s_weights_path: GPT_SoVITS/pretrained_models/s1bert25hz-2kh-longer-epoch=68e-step=50232.ckpt
  version: v1
  vits_weights_path: GPT_SoVITS/pretrained_models/s2G488k.pth
v2Pro:
  bert_base_path: GPT_SoVITS/pretrained_models/chinese-roberta-wwm-ext-large
  cnhuhbert_base_path: GPT_SoVITS/pretrained_models/chinese-hubert-base
  device: cpu
  is_half: false
  t2s_weights_path: GPT_SoVITS/pretrained_models/s1v3.ckpt
  version: v2Pro
  vits_weights_path: GPT_SoVITS/pretrained_models/v2Pro/s2Gv2Pro.pth
"""

# A hand-edited file: comments, keys not sorted, a trailing comment on the line that changes.
YAML_COMMENTED = """# 推理配置 (edited by hand)
custom:
  version: v2   # which defaults
  is_half: true  # 半精度
  device: cuda
  # model paths
  t2s_weights_path: GPT_SoVITS/pretrained_models/gsv-v2final-pretrained/s1bert25hz-5kh-longer-epoch=12-step=369668.ckpt
  vits_weights_path: GPT_SoVITS/pretrained_models/gsv-v2final-pretrained/s2G2333k.pth

default:
  device: cpu
  is_half: false
"""

BAT_2024 = "REM 启动 GPT-SoVITS 整合包\r\nruntime\\python.exe webui.py zh_CN\r\npause\r\n"
BAT_MAIN = ('set "SCRIPT_DIR=%~dp0"\r\nset "SCRIPT_DIR=%SCRIPT_DIR:~0,-1%"\r\ncd /d "%SCRIPT_DIR%"\r\n'
            'set "PATH=%SCRIPT_DIR%\\runtime;%PATH%"\r\nruntime\\python.exe -I webui.py zh_CN\r\npause\r\n')
PS1 = ('$ErrorActionPreference = "SilentlyContinue"\r\nchcp 65001\r\n# 启动\r\nSet-Location $PSScriptRoot\r\n'
       '& "$PSScriptRoot\\runtime\\python.exe" -I "$PSScriptRoot\\webui.py" zh_CN\r\npause\r\n')


def write(root: Path, relative: str, data: bytes, mode: Optional[int] = None) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mode is not None:
        path.chmod(mode)


def make_tree(root: Path, generation: str, yaml_text: Optional[str] = YAML_MAIN) -> Path:
    """Write a GPT-SoVITS tree of GENERATION under ROOT; returns ROOT."""
    assert generation in GENERATIONS
    root.mkdir(parents=True, exist_ok=True)
    write(root, "webui.py", WEBUI.encode())
    write(root, "GPT_SoVITS/inference_webui.py", INFERENCE_WEBUI.encode())
    if yaml_text is not None:
        write(root, "GPT_SoVITS/configs/tts_infer.yaml", yaml_text.encode("utf-8"))
    write(root, "go-webui.ps1", b"\xef\xbb\xbf" + PS1.encode("utf-8"))
    if generation == "main":
        write(root, "config.py", CONFIG_AUTODTYPE.encode())
        write(root, "go-webui.bat", BAT_MAIN.encode("ascii"))
    else:
        write(root, "config.py", CONFIG_ENV.encode())
        write(root, "go-webui.bat", BAT_2024.encode("gbk"))
        write(root, "runtime/python.exe", b"MZ")  # a Windows bundle's interpreter (never run here)
    if generation != "v2-2024":
        write(root, "GPT_SoVITS/eres2net/kaldi.py", KALDI.encode())
        write(root, "GPT_SoVITS/eres2net/ERes2NetV2.py", ERES2NET.encode())
        if generation == "main":
            write(root, "GPT_SoVITS/sv.py", (SV_HEADER + SV_CLASS_MAIN).encode())
        else:
            write(root, "GPT_SoVITS/sv.py", (SV_HEADER + SV_CLASS_2025).replace("\n", "\r\n").encode())
    bin_dir = root / "runtime" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "python3").symlink_to(sys.executable)
    return root


def write_standin_torch(folder: Path) -> Path:
    (folder / "torch").mkdir(parents=True, exist_ok=True)
    (folder / "torch" / "__init__.py").write_text(STANDIN_TORCH, encoding="utf-8")
    return folder


def snapshot(root: Path) -> Dict[str, Tuple[str, Optional[bytes], int]]:
    """Every entry under ROOT: kind, bytes (files) or link target, permission bits."""
    entries: Dict[str, Tuple[str, Optional[bytes], int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ("link", os.readlink(path).encode(), 0)
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("dir", None, stat.S_IMODE(info.st_mode))
            else:
                entries[relative] = ("file", Path(path).read_bytes(), stat.S_IMODE(info.st_mode))
    return entries
