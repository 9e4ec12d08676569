"""Test machines for the report tests: a GPT-SoVITS folder with real files, a small matrix, a controlled
environment (user, home, host name, PATH with a stand-in nvidia-smi at the hardware edge)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import pytest

from envdoctor.demo import SCENARIOS, write_bundle

GPUS = "NVIDIA GeForce RTX 5060 Ti@12.0@16311"
DRIVER = "576.02@12.9"
GPU_UUID = "GPU-3f0a9c1e-7b2d-4e5f-9a81-c0ffee123456"
GPU_SERIAL = "1652925012345"

FIXTURES = Path(__file__).resolve().parent / "fixtures"

NVRTC_LOG = textwrap.dedent("""\
    2026-11-20 10:00:01 INFO Running on local URL:  http://0.0.0.0:9874
    2026-11-20 10:00:05 INFO loading v2ProPlus model
    Traceback (most recent call last):
      File "{home}\\GPT-SoVITS\\GPT_SoVITS\\inference_webui.py", line 800, in get_tts_wav
        sv_emb = sv_cn_model.compute_embedding3(audio)
      File "{home}\\GPT-SoVITS\\GPT_SoVITS/eres2net\\kaldi.py", line 621, in fbank
        spectrum = torch.fft.rfft(strided_input).abs()
    RuntimeError:
      nvrtc: error: invalid value for --gpu-architecture (-arch)
    2026-11-20 10:00:09 INFO request finished
    """)

NVIDIA_SMI_Q = textwrap.dedent(f"""\

    ==============NVSMI LOG==============

    Timestamp                                 : Thu Nov 20 10:00:00 2026
    Driver Version                            : 576.02
    CUDA Version                              : 12.9

    Attached GPUs                             : 1
    GPU 00000000:01:00.0
        Product Name                          : NVIDIA GeForce RTX 5060 Ti
        Product Architecture                  : Blackwell
        Serial Number                         : {GPU_SERIAL}
        GPU UUID                              : {GPU_UUID}
        VBIOS Version                         : 98.06.1F.00.0A
        FB Memory Usage
            Total                             : 16311 MiB
    """)


@dataclass
class Machine:
    """A controlled machine: environment variables, home folder, GPT-SoVITS folder, matrix."""

    env: Dict[str, str]
    home: Path
    root: Path
    matrix: Path
    log: Path


def _script(path: Path, text: str) -> None:
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({text!r})\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def make_machine(base: Path, user: str = "zhangsan", host: str = "DESKTOP-Q7K2ZX9",
                 scenario: str = "rtx5060ti-cu124", posix_runtime: bool = False) -> Machine:
    home = base / "home" / user
    root = home / "GPT-SoVITS"
    root.mkdir(parents=True)
    if posix_runtime:
        make_posix_runtime(root / "runtime")
    else:
        write_bundle(str(root), SCENARIOS[scenario])
    configs = root / "GPT_SoVITS" / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    (configs / "tts_infer.yaml").write_text(
        "custom:\n  bert_base_path: GPT_SoVITS/pretrained_models/chinese-roberta-wwm-ext-large\n"
        "  device: cuda\n  is_half: true\n  t2s_weights_path: GPT_weights_v2ProPlus/voice-e15.ckpt\n"
        "  version: v2ProPlus\n  vits_weights_path: SoVITS_weights_v2ProPlus/voice_e8_s200.pth\n",
        encoding="utf-8")
    (root / "weight.json").write_text('{"GPT": {"v2ProPlus": "GPT_weights_v2ProPlus/voice-e15.ckpt"}}\n',
                                      encoding="utf-8")
    (root / "logs").mkdir()
    log = root / "logs" / "webui.log"
    log.write_text(NVRTC_LOG.replace("{home}", "C:\\Users\\" + user), encoding="utf-8")
    bin_dir = home / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "nvidia-smi", NVIDIA_SMI_Q)
    matrix = home / "matrix"
    matrix.mkdir()
    for source in sorted((FIXTURES / "matrix").glob("*.yaml")):
        shutil.copyfile(source, matrix / source.name)
    cache = home / ".cache" / "envdoctor"
    cache.mkdir(parents=True)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "USER": user,
        "LOGNAME": user,
        "HOSTNAME": host,
        "LANG": "C.UTF-8",
        "ENVDOCTOR_GPUS": GPUS,
        "ENVDOCTOR_DRIVER": DRIVER,
        "ENVDOCTOR_MATRIX_DIR": str(matrix),
        "ENVDOCTOR_CACHE_DIR": str(cache),
        "CUDA_VISIBLE_DEVICES": "0",
        "SOURCE_DATE_EPOCH": "1795000000",
    }
    return Machine(env, home, root, matrix, log)


def make_posix_runtime(path: Path, torch_init: str = "") -> Path:
    """A real venv whose torch is a stand-in answering like a cu124 build on a GPU it cannot serve."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python3.*/site-packages"))
    torch_dir = site / "torch"
    (torch_dir / "lib").mkdir(parents=True)
    (torch_dir / "version.py").write_text(
        "__version__ = '2.6.0+cu124'\ndebug = False\ncuda = '12.4'\ngit_version = 'test'\nhip = None\n",
        encoding="utf-8")
    (torch_dir / "__init__.py").write_text(torch_init or textwrap.dedent("""\
        from torch import version
        __version__ = version.__version__
        class cuda:
            @staticmethod
            def is_available(): return True
            @staticmethod
            def get_arch_list(): return ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
            @staticmethod
            def device_count(): return 1
            @staticmethod
            def get_device_capability(i=0): return (12, 0)
            @staticmethod
            def get_device_name(i=0): return "NVIDIA GeForce RTX 5060 Ti"
        """), encoding="utf-8")
    for name, version in (("torch", "2.6.0+cu124"), ("torchaudio", "2.6.0+cu124")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    return path


def use_environment(monkeypatch: pytest.MonkeyPatch, env: Dict[str, str]) -> None:
    """Exactly `env` as os.environ (nothing of the developer's own environment leaks into a golden)."""
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
