"""explain's reader and matcher on real-looking logs: encodings, bad input, size, known errors."""

from __future__ import annotations

import codecs
import io
import tracemalloc
from pathlib import Path

import pytest

from envdoctor.explain.matcher import MAX_ERROR_LINES, explain_stream
from envdoctor.explain.reader import MAX_LINE, ReadStats, read_lines, sniff
from envdoctor.matrix.loader import load_matrix

from .conftest import LOGS, MATRIX

KNOWN = load_matrix(str(MATRIX)).known_errors


def _explain(data: bytes):
    return explain_stream(io.BytesIO(data), KNOWN)


def _codes(data: bytes):
    return [m.error.code for m in _explain(data).matches]


# Real error texts (torch, CUDA, cuDNN/cuBLAS, onnxruntime), each with the known error it must give.
REAL_TEXTS = [
    ("FATAL: this function is for sm80, but was built for sm370", "fp16-attention-arch-mismatch"),
    ("FATAL: kernel `fmha_cutlassF_f16_aligned_64x64_rf_sm80` is for sm80-sm100, but was built for sm120",
     "fp16-attention-arch-mismatch"),
    ("nvrtc: error: invalid value for --gpu-architecture (-arch)", "nvrtc-invalid-arch"),
    ("RuntimeError: CUDA error: no kernel image is available for execution on the device", "no-kernel-image"),
    ("RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version",
     "cuda-driver-insufficient"),
    ("UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).",
     "cuda-driver-insufficient"),
    ("NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
     "arch-not-compatible"),
    ("Could not load library cudnn_cnn_infer64_8.dll. Error code 126", "cudnn-load-failed"),
    ("RuntimeError: cuDNN error: CUDNN_STATUS_NOT_INITIALIZED", "cudnn-load-failed"),
    ("RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasGemmEx( handle, opa, opb, m, n, k"
     ", &falpha, a, CUDA_R_16F, lda, b, CUDA_R_16F, ldb, &fbeta, c, CUDA_R_16F, ldc, CUDA_R_32F, "
     "CUBLAS_GEMM_DEFAULT_TENSOR_OP)`", "cublas-failed"),
    ("OSError: libcublasLt.so.12: cannot open shared object file: No such file or directory", "cublas-failed"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
     "8.00 GiB of which 1.02 GiB is free.", "cuda-out-of-memory"),
    ("2025-06-04 10:00:01.123 [E:onnxruntime:Default, provider_bridge_ort.cc:1992 TryGetProviderInfo_CUDA] "
     "LoadLibrary failed with error 126 \"\" when trying to load \"C:\\GPT-SoVITS\\runtime\\Lib\\site-packages"
     "\\onnxruntime\\capi\\onnxruntime_providers_cuda.dll\"", "onnxruntime-cuda-provider"),
    ("[W:onnxruntime:Default, onnxruntime_pybind_state.cc:965 CreateExecutionProviderInstance] Failed to create "
     "CUDAExecutionProvider. Require cuDNN 9.* and CUDA 12.*.", "onnxruntime-cuda-provider"),
    ("AssertionError: Torch not compiled with CUDA enabled", "torch-not-compiled-with-cuda"),
]


@pytest.mark.parametrize("text, code", REAL_TEXTS)
def test_real_error_texts_match_their_known_error(text: str, code: str) -> None:
    assert _codes(("启动中…\n" + text + "\n").encode("utf-8"))[:1] == [code]


def test_memo_failure_1_log_in_utf8_with_chinese() -> None:
    result = _explain((LOGS / "webui-fp16-fatal.log").read_bytes())
    assert result.stats.encoding == "utf-8" and result.stats.lines == 18
    codes = {m.error.code: m for m in result.matches}
    fatal = codes["fp16-attention-arch-mismatch"]
    assert fatal.line_no == 15 and fatal.count == 3
    assert codes["arch-not-compatible"].line_no == 5


def test_memo_failure_2_traceback_in_gbk_with_crlf() -> None:
    result = _explain((LOGS / "webui-v2pro-nvrtc.gbk.log").read_bytes())
    assert result.stats.encoding == "gb18030"
    (match,) = result.matches
    assert match.error.code == "nvrtc-invalid-arch" and match.line_no == 16
    assert match.line == "nvrtc: error: invalid value for --gpu-architecture (-arch)"  # no \r left
    assert any("kaldi.py\", line 621, in fbank" in c for c in match.context)
    assert "spectrum = torch.fft.rfft(strided_input).abs()" in match.context
    assert any("推理失败" in text for _, text in result.error_lines)


def test_utf16_logs_with_and_without_bom() -> None:
    text = "加载模型\r\nRuntimeError: CUDA error: no kernel image is available for execution on the device\r\n"
    for data in (codecs.BOM_UTF16_LE + text.encode("utf-16-le"), text.encode("utf-16-le"),
                 codecs.BOM_UTF16_BE + text.encode("utf-16-be")):
        result = _explain(data)
        assert [m.error.code for m in result.matches] == ["no-kernel-image"]
        assert result.matches[0].line_no == 2 and result.stats.encoding.startswith("utf-16")


def test_mixed_encodings_line_by_line_and_utf8_bom() -> None:
    data = (codecs.BOM_UTF8 + "第一行 UTF-8\n".encode() + "第二行 错误：显存不足\n".encode("gbk")
            + b"CUDA out of memory\n")
    result = _explain(data)
    assert result.stats.encoding == "mixed"
    assert [m.error.code for m in result.matches] == ["cuda-out-of-memory"]
    assert (2, "第二行 错误：显存不足") in result.error_lines


def test_progress_bar_carriage_returns_are_separate_segments() -> None:
    data = b" 10%|#  | 1/10\r 20%|## | 2/10\rRuntimeError: CUDA error: no kernel image is available for execution" \
           b" on the device\n"
    (match,) = _explain(data).matches
    assert match.line.startswith("RuntimeError: CUDA error") and match.line_no == 1


def test_empty_input() -> None:
    result = _explain(b"")
    assert result.stats.kind == "empty" and result.matches == [] and result.stats.lines == 0


BINARIES = [b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40, b"MZ\x90\x00\x03\x00\x00\x00",
            bytes(range(1, 32)) * 100]


@pytest.mark.parametrize("data", BINARIES, ids=["elf", "pe", "controls"])
def test_binary_input_is_recognised_not_decoded(data: bytes) -> None:
    result = _explain(data)
    assert result.stats.kind == "binary" and result.matches == [] and result.error_lines == []


def test_unknown_error_lists_error_like_lines_capped() -> None:
    lines = ["Traceback (most recent call last):", '  File "webui.py", line 3, in <module>',
             "ValueError: 参考音频在3~10秒范围外，请更换！"]
    lines += [f"模型加载失败 {i}" for i in range(50)]
    result = _explain("\n".join(lines).encode("utf-8"))
    assert result.matches == []
    assert result.error_lines[0] == (1, "Traceback (most recent call last):")
    assert (3, "ValueError: 参考音频在3~10秒范围外，请更换！") in result.error_lines
    assert len(result.error_lines) == MAX_ERROR_LINES and result.more_error_lines == 50 + 2 - MAX_ERROR_LINES


def test_no_known_errors_in_the_matrix_still_answers() -> None:
    result = explain_stream(io.BytesIO(b"RuntimeError: something odd\n"), [])
    assert result.matches == [] and result.error_lines == [(1, "RuntimeError: something odd")]


def test_a_huge_line_is_cut_and_the_next_line_still_read() -> None:
    data = b"x" * (MAX_LINE * 5 + 17) + b"\nFATAL: this function is for sm80, but was built for sm370\n"
    result = _explain(data)
    assert result.stats.truncated_lines == 1
    assert result.matches[0].line_no == 2


def test_sniff() -> None:
    assert sniff(b"") == ("empty", "utf-8")
    assert sniff("普通文本".encode("gbk")) == ("text", "utf-8")
    assert sniff(b"a\x00b\x00c\x00d\x00")[1] == "utf-16-le"


class _Endless(io.RawIOBase):
    """A log of `size` bytes generated on the fly: a long WebUI session with one error near the end."""

    def __init__(self, size: int, line: bytes, tail: bytes) -> None:
        self.left = size
        self.block = line * (1 << 20 // len(line))
        self.tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            chunk, self.tail = self.tail, b""
        else:
            chunk = self.block[: min(len(buffer), self.left)]
            self.left -= len(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


PROGRESS = "100%|##########| 1500/1500 [00:10<00:00, 150.00it/s] 推理\n".encode()


@pytest.mark.slow
@pytest.mark.parametrize("line", [PROGRESS, b"y" * 4096],  # the second: one endless line, no newline
                         ids=["short-lines", "one-endless-line"])
def test_big_input_streams_in_bounded_memory(line: bytes) -> None:
    size = 128 << 20
    stream = io.BufferedReader(_Endless(size, line, b"\nCUDA out of memory. Tried to allocate 20.00 MiB\n"))
    tracemalloc.start()
    try:
        result = explain_stream(stream, KNOWN)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [m.error.code for m in result.matches] == ["cuda-out-of-memory"]
    assert result.stats.bytes_read >= size
    assert peak < 24 << 20, peak


def test_reader_counts_lines_of_a_stream_without_final_newline() -> None:
    stats = ReadStats()
    assert list(read_lines(io.BytesIO(b"a\nb"), stats)) == [(1, "a"), (2, "b")]
    assert stats.lines == 2


SHIPPED = Path(__file__).resolve().parents[2] / "matrices"


@pytest.mark.parametrize("text, _code", REAL_TEXTS)
def test_the_shipped_matrix_explains_every_required_error(text: str, _code: str) -> None:
    shipped = load_matrix(str(SHIPPED)).known_errors
    result = explain_stream(io.BytesIO(("加载中\n" + text + "\n").encode("gbk", "replace")), shipped)
    assert result.matches, text


def test_related_findings_of_the_shipped_matrix_are_real_finding_codes() -> None:
    from envdoctor.i18n import has_message

    for error in load_matrix(str(SHIPPED)).known_errors:
        for code in error.related_findings:
            assert has_message("en", f"finding.{code}.title"), (error.code, code)
