"""The error signatures added to the shipped matrix (issue 12), on real-looking log lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from envdoctor.explain.matcher import explain_stream
from envdoctor.i18n import LANGUAGES
from envdoctor.matrix.loader import load_matrix

SHIPPED = Path(__file__).resolve().parents[2] / "matrices"
KNOWN = load_matrix(str(SHIPPED), cache=None).known_errors

LOG_LINES = [
    ("UserWarning: Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of compute capability (CC) 6.1.\n"
     "The following list shows the CCs this version of PyTorch was built for and the hardware CCs it supports",
     "gpu-too-old-for-torch"),
    ("UserWarning:\n    Found GPU0 Tesla K80 which is of cuda capability 3.7.\n"
     "    PyTorch no longer supports this GPU because it is too old.", "gpu-too-old-for-torch"),
    ("RuntimeError: CUDA error: the provided PTX was compiled with an unsupported toolchain.\n"
     "CUDA kernel errors might be asynchronously reported at some other API call", "ptx-unsupported-toolchain"),
    ("RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed "
     "a driver from http://www.nvidia.com/Download/index.aspx", "no-nvidia-driver"),
    ("  File \"C:\\GPT-SoVITS\\runtime\\lib\\site-packages\\torch\\cuda\\__init__.py\", line 319, in _lazy_init\n"
     "    torch._C._cuda_init()\nRuntimeError: No CUDA GPUs are available", "no-cuda-gpus-available"),
    ("OSError: [WinError 126] 找不到指定的模块。 Error loading \"D:\\GPT-SoVITS-v2pro\\runtime\\lib\\site-packages"
     "\\torch\\lib\\c10.dll\" or one of its dependencies.", "windows-dll-load-failed"),
    ("OSError: [WinError 1114] A dynamic link library (DLL) initialization routine failed. Error loading "
     "\"C:\\GPT-SoVITS\\runtime\\Lib\\site-packages\\torch\\lib\\torch_cuda.dll\" or one of its dependencies.",
     "windows-dll-load-failed"),
    ("ImportError: cannot import name 'add_safe_globals' from 'torch.serialization' "
     "(C:\\GPT-SoVITS\\runtime\\lib\\site-packages\\torch\\serialization.py)", "torch-too-old-for-code"),
    ("Could not load library libcudnn_ops_infer.so.8. Error: libcudnn_ops_infer.so.8: cannot open shared object\n"
     "Invalid handle. Cannot load symbol cudnnCreateTensorDescriptor", "cudnn-symbol-load-failed"),
    ("FATAL: kernel 'fmha_cutlassF_f16_aligned_64x128_rf_sm80' is for sm80-sm100, but was built for sm37",
     "fp16-sm80-built-for-sm370"),
    ("OSError: /home/u/GPT-SoVITS/.venv/lib/python3.11/site-packages/torchaudio/lib/libtorchaudio.so: "
     "undefined symbol: _ZN3c1017RegisterOperatorsD1Ev", "torchaudio-torch-mismatch"),
    ("RuntimeError: Could not load libtorchcodec. Likely causes:\n  1. FFmpeg is not properly installed in your "
     "environment. We support versions 4, 5, 6, 7 and 8.", "torchcodec-load-failed"),
]


@pytest.mark.parametrize("text, code", LOG_LINES)
def test_log_lines_name_their_error(text: str, code: str) -> None:
    result = explain_stream(io.BytesIO(text.encode("utf-8")), KNOWN)
    codes = [m.error.code for m in result.matches]
    assert codes and codes[0] == code, codes


def test_a_line_without_a_known_error_matches_nothing() -> None:
    text = "Found 2 NVIDIA GPUs; capability check passed\nRunning on local URL:  http://0.0.0.0:9874"
    assert not explain_stream(io.BytesIO(text.encode()), KNOWN).matches


def test_new_entries_have_text_in_both_languages() -> None:
    added = {code for _, code in LOG_LINES}
    for error in KNOWN:
        if error.code in added:
            for part in (error.title, error.cause, error.fix):
                assert set(LANGUAGES) <= set(part) and all(part[lang].strip() for lang in LANGUAGES)
