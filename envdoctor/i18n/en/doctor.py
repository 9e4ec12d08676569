"""English messages of `envdoctor doctor`: smoke-test findings, skip reasons, recommendations."""

from envdoctor.doctor.catalog import FEATURE_OF  # which feature each test stands for

# What each smoke test runs, and what in GPT-SoVITS breaks when it fails.
TESTS = {
    "cuda": ("CUDA basics (torch.cuda.is_available, device properties, first allocation)",
             "Without it GPT-SoVITS cannot use the GPU at all."),
    "elementwise": ("a plain elementwise kernel (fp32)", "Every model in GPT-SoVITS needs prebuilt kernels like this one."),
    "matmul-fp32": ("fp32 matrix multiply", "Every model in GPT-SoVITS needs matrix multiplies."),
    "matmul-fp16": ("fp16 matrix multiply", "FP16 inference (the default) needs it."),
    "conv1d-fp32": ("fp32 1-D convolution", "The HuBERT and VITS models need 1-D convolutions."),
    "conv1d-fp16": ("fp16 1-D convolution", "FP16 inference (the default) needs it."),
    "sdpa-efficient": ("FP16 attention, memory-efficient kernel", "FP16 inference aborts the whole WebUI when this breaks "
                       "(\"FATAL: this function is for sm80, but was built for sm370\")."),
    "sdpa-default": ("FP16 attention, default kernel choice", "FP16 inference uses this attention path."),
    "fft-fp32": ("torch.fft.rfft(x).abs() (fp32)", "v2Pro/v2ProPlus voices crash in speaker verification (fbank) when this breaks "
                 "(\"nvrtc: error: invalid value for --gpu-architecture\")."),
    "fft-fp16": ("torch.fft.rfft(x).abs() (fp16)", "v2Pro speaker verification with FP16 on."),
    "onnxruntime-cuda": ("onnxruntime CUDA execution provider", "The G2PW Chinese text frontend runs on it."),
    "extension": ("a kernel from the given CUDA extension library", "Code in that library cannot run on this GPU."),
}
FIXES = {
    "core": "Run {cmd} upgrade to install a torch build made for this GPU.",
    "fp16": "Run {cmd} configure --fp16 off now (slower, more memory), and {cmd} upgrade for the real fix.",
    "v2pro-sv": "Run {cmd} configure --v2pro-sv cpu now (speaker verification on the CPU), and {cmd} upgrade "
                "for the real fix.",
    "g2pw": "Run G2PW on the CPU: envdoctor configure --g2pw cpu (undo: envdoctor configure --revert).",
    "extension": "Rebuild the extension for this GPU (TORCH_CUDA_ARCH_LIST set to its compute capability).",
}
SKIP_REASONS = {
    "no-cuda-build": "no CUDA: torch is a CPU build",
    "no-cuda": "no CUDA: torch.cuda.is_available() is False",
    "no-device": "torch does not see the selected GPU",
    "no-sdpa": "this torch has no scaled_dot_product_attention",
    "no-backend-switch": "this torch cannot force an attention backend",
    "no-cuda-provider": "onnxruntime has no CUDA execution provider (CPU build)",
    "no-gpu": "no GPU selected",
    "no-extension": "no extension library given",
    "no-runtime": "no runtime found",
    "foreign-runtime": "the runtime is for another operating system",
    "no-torch": "torch is not installed",
    "no-onnxruntime": "onnxruntime is not installed",
    "simulated-gpu": "the GPU is simulated or another machine's (ENVDOCTOR_GPUS, --assume-gpu, --facts-from): a test here would run on this machine, not on it",
    "cuda-failed": "the cuda test failed",
    "cuda-crashed": "the cuda test crashed",
    "cuda-timeout": "the cuda test timed out",
    "unknown": "reason unknown",
}
STATUS = {"passed": "passed", "failed": "failed", "crashed": "crashed", "timeout": "timed out", "skipped": "skipped"}

MESSAGES = {
    "finding.smoke-passed.title": "{count} smoke test(s) passed on {gpu}",
    "finding.smoke-passed.detail": "{tests} ({seconds} s).",
    "finding.smoke-passed.fix": "",
    "finding.prediction-disproved.title": "A smoke test disproved check's prediction {prediction} on {gpu}",
    "finding.prediction-disproved.detail": "The files suggested trouble, but {tests} ran correctly on this GPU; the test result wins.",
    "finding.prediction-disproved.fix": "",
    "error.smoke_unknown_test": "There is no smoke test named {name}. Tests: {choices}.",
    "error.extension_missing": "The extension library {path} does not exist.",
    "ui.doctor.smoke": "Smoke tests",
    "ui.doctor.test": "Test",
    "ui.doctor.gpu": "GPU",
    "ui.doctor.status": "Result",
    "ui.doctor.time": "Time",
    "ui.doctor.error": "Error / reason",
    "ui.doctor.running": "Running {test} on {gpu}",
    "ui.doctor.recommend": "Recommended settings",
    "ui.doctor.setting": "Setting",
    "ui.doctor.value": "Value",
    "ui.doctor.why": "Why",
    "ui.doctor.source": "Evidence from",
    "ui.doctor.on": "on",
    "ui.doctor.off": "off",
    "ui.doctor.cpu": "on, run on the CPU",
    "ui.doctor.yes": "yes",
    "ui.doctor.no": "no",
    "ui.doctor.unknown": "unknown",
    "ui.doctor.fp16": "FP16 inference (半精度)",
    "ui.doctor.v2pro_sv": "v2Pro speaker verification",
    "ui.doctor.arch_list": "TORCH_CUDA_ARCH_LIST",
    "ui.doctor.upgrade_needed": "torch upgrade needed",
    "ui.doctor.source.smoke": "smoke test",
    "ui.doctor.source.prediction": "prediction (no test could run)",
    "ui.doctor.source.facts": "machine facts",
    "ui.doctor.source.default": "GPT-SoVITS default",
    "recommend.fp16.cuda_unusable": "CUDA cannot be used on {gpu}: GPT-SoVITS runs on the CPU in fp32.",
    "recommend.fp16.smoke_broke": "FP16 operations broke on {gpu} ({tests}).",
    "recommend.fp16.smoke_passed": "FP16 operations ran correctly on {gpu} ({tests}).",
    "recommend.fp16.predicted_risk": "The FP16 tests could not run; check predicts trouble on {gpu} ({finding}).",
    "recommend.fp16.old_gpu": "{gpu} (compute capability {cc}) is one GPT-SoVITS itself runs in fp32.",
    "recommend.fp16.default": "Nothing found against FP16 on {gpu}, but no FP16 test ran.",
    "recommend.fp16.no_torch": "torch is not installed in this runtime.",
    "recommend.fp16.cpu_torch": "torch {torch} is a CPU build: inference runs on the CPU in fp32.",
    "recommend.fp16.no_gpu": "No NVIDIA GPU: inference runs on the CPU in fp32.",
    "recommend.v2pro_sv.cuda_unusable": "CUDA cannot be used on {gpu}; speaker verification runs on the CPU like everything else.",
    "recommend.v2pro_sv.smoke_broke_cpu": "rfft().abs() broke on {gpu} ({tests}) but works on the CPU: keep speaker verification, on the CPU.",
    "recommend.v2pro_sv.smoke_broke_off": "rfft().abs() broke on {gpu} ({tests}) and on the CPU too: turn speaker verification off.",
    "recommend.v2pro_sv.smoke_passed": "rfft().abs() ran correctly on {gpu} ({tests}).",
    "recommend.v2pro_sv.predicted_risk": "The FFT tests could not run; check predicts an NVRTC failure on {gpu} ({finding}).",
    "recommend.v2pro_sv.default": "Nothing found against speaker verification on {gpu}, but no FFT test ran.",
    "recommend.v2pro_sv.no_torch": "torch is not installed in this runtime.",
    "recommend.v2pro_sv.cpu_torch": "torch {torch} is a CPU build: speaker verification runs on the CPU.",
    "recommend.v2pro_sv.no_gpu": "No NVIDIA GPU: speaker verification runs on the CPU.",
    "recommend.arch_list.value": "The compute capability of the GPU(s) here: {value}.",
    "recommend.arch_list.unknown": "No GPU's compute capability is known.",
    "recommend.arch_list.note": "TORCH_CUDA_ARCH_LIST only steers CUDA extensions compiled on this machine "
    "(torch.utils.cpp_extension and similar). It adds no kernels to the torch already installed and does not change "
    "which GPUs NVRTC can compile for: it fixes neither the FP16 abort nor the v2Pro speaker-verification crash; an upgraded torch does.",
    "recommend.upgrade.no_torch": "torch is not installed in this runtime.",
    "recommend.upgrade.cpu_torch": "torch {torch} is a CPU build on a machine with an NVIDIA GPU.",
    "recommend.upgrade.no_gpu": "No NVIDIA GPU: the installed torch is as good as it gets here.",
    "recommend.upgrade.smoke_broke": "torch {torch} failed on this GPU ({tests}): a build made for it is the real fix.",
    "recommend.upgrade.smoke_passed": "torch {torch} ran every key test correctly on this GPU.",
    "recommend.upgrade.predicted": "The key tests could not run; check predicts torch {torch} is wrong for this GPU ({finding}).",
    "recommend.upgrade.default": "Nothing found against torch {torch}, but the key tests did not all run.",
}
for _status, _word in STATUS.items():
    MESSAGES[f"smoke.status.{_status}"] = _word
for _reason, _text in SKIP_REASONS.items():
    MESSAGES[f"smoke.skip.{_reason}"] = _text
    MESSAGES[f"finding.smoke-skipped-{_reason}.title"] = f"Smoke tests skipped on {{gpu}}: {_text}"
    MESSAGES[f"finding.smoke-skipped-{_reason}.detail"] = "{tests}. {detail}"
    MESSAGES[f"finding.smoke-skipped-{_reason}.fix"] = ""
for _test, (_what, _why) in TESTS.items():
    _fix = FIXES[FEATURE_OF[_test]]
    MESSAGES[f"smoke.test.{_test}"] = _what
    MESSAGES[f"finding.smoke-{_test}-failed.title"] = f"Smoke test {_test} failed on {{gpu}}: {_what}"
    MESSAGES[f"finding.smoke-{_test}-failed.detail"] = f"{_why} Error: {{error}}"
    MESSAGES[f"finding.smoke-{_test}-failed.fix"] = _fix
    MESSAGES[f"finding.smoke-{_test}-crashed.title"] = f"Smoke test {_test} crashed the process on {{gpu}}: {_what}"
    MESSAGES[f"finding.smoke-{_test}-crashed.detail"] = (
        f"{_why} The process ended with {{exit}} during {{stage}}; the WebUI would die the same way. {{error}}")
    MESSAGES[f"finding.smoke-{_test}-crashed.fix"] = _fix
    MESSAGES[f"finding.smoke-{_test}-timeout.title"] = f"Smoke test {_test} did not finish on {{gpu}}: {_what}"
    MESSAGES[f"finding.smoke-{_test}-timeout.detail"] = (
        f"{_why} No answer after {{seconds}} s (during {{stage}}). The first run on a GPU without native kernels "
        "can spend minutes compiling them; a hang here would hang the WebUI too.")
    MESSAGES[f"finding.smoke-{_test}-timeout.fix"] = "Run {cmd} doctor again with a longer --test-timeout; " \
        "if it repeats: " + _fix
