"""`envdoctor doctor` 的中文消息：冒烟测试结果、跳过原因、推荐设置。"""

from envdoctor.doctor.catalog import FEATURE_OF  # which feature each test stands for

TESTS = {
    "cuda": ("CUDA 基本功能（torch.cuda.is_available、显卡属性、首次分配显存）", "这一项不通过，GPT-SoVITS 完全无法使用显卡。"),
    "elementwise": ("普通逐元素运算内核（fp32）", "GPT-SoVITS 的所有模型都需要这类预编译内核。"),
    "matmul-fp32": ("fp32 矩阵乘法", "GPT-SoVITS 的所有模型都需要矩阵乘法。"),
    "matmul-fp16": ("fp16 矩阵乘法", "半精度（FP16）推理（默认开启）需要它。"),
    "conv1d-fp32": ("fp32 一维卷积", "HuBERT 和 VITS 模型需要一维卷积。"),
    "conv1d-fp16": ("fp16 一维卷积", "半精度（FP16）推理（默认开启）需要它。"),
    "sdpa-efficient": ("FP16 注意力（memory-efficient 内核）", "这一项出错时，半精度推理会让整个 WebUI 崩溃退出"
                       "（\"FATAL: this function is for sm80, but was built for sm370\"）。"),
    "sdpa-default": ("FP16 注意力（默认内核选择）", "半精度推理走的就是这条注意力路径。"),
    "fft-fp32": ("torch.fft.rfft(x).abs()（fp32）", "这一项出错时，v2Pro/v2ProPlus 音色在声纹提取（fbank）时崩溃"
                 "（\"nvrtc: error: invalid value for --gpu-architecture\"）。"),
    "fft-fp16": ("torch.fft.rfft(x).abs()（fp16）", "开启半精度时的 v2Pro 声纹提取。"),
    "onnxruntime-cuda": ("onnxruntime 的 CUDA 执行器", "G2PW 中文文本前端在它上面运行。"),
    "extension": ("指定的 CUDA 扩展库中的内核", "这个库里的代码无法在这张显卡上运行。"),
}
FIXES = {
    "core": "运行 {cmd} upgrade，安装为这张显卡编译的 torch。",
    "fp16": "现在先运行 {cmd} configure --fp16 off（更慢、更占显存）；根本解决办法是 {cmd} upgrade。",
    "v2pro-sv": "现在先运行 {cmd} configure --v2pro-sv cpu（声纹提取改在 CPU 上做）；根本解决办法是 {cmd} upgrade。",
    "g2pw": "让 G2PW 在 CPU 上运行：{cmd} configure --g2pw cpu（撤销：{cmd} configure --revert）。",
    "extension": "为这张显卡重新编译这个扩展（把 TORCH_CUDA_ARCH_LIST 设为它的计算能力）。",
}
SKIP_REASONS = {
    "no-cuda-build": "没有 CUDA：torch 是 CPU 版",
    "no-cuda": "没有 CUDA：torch.cuda.is_available() 为 False",
    "no-device": "torch 看不到所选的显卡",
    "no-sdpa": "这个 torch 没有 scaled_dot_product_attention",
    "no-backend-switch": "这个 torch 不能强制指定注意力内核",
    "no-cuda-provider": "onnxruntime 没有 CUDA 执行器（CPU 版）",
    "no-gpu": "没有选中显卡",
    "no-extension": "没有指定扩展库",
    "no-runtime": "没有找到运行环境",
    "foreign-runtime": "这个运行环境属于另一个操作系统",
    "no-torch": "没有安装 torch",
    "no-onnxruntime": "没有安装 onnxruntime",
    "simulated-gpu": "显卡是模拟的或属于另一台机器（ENVDOCTOR_GPUS、--assume-gpu、--facts-from）：在这里运行的测试不会在那张显卡上运行",
    "cuda-failed": "cuda 测试失败",
    "cuda-crashed": "cuda 测试崩溃",
    "cuda-timeout": "cuda 测试超时",
    "unknown": "原因不明",
}
STATUS = {"passed": "通过", "failed": "失败", "crashed": "崩溃", "timeout": "超时", "skipped": "跳过"}

MESSAGES = {
    "finding.smoke-passed.title": "{gpu} 上有 {count} 项冒烟测试通过",
    "finding.smoke-passed.detail": "{tests}（{seconds} 秒）。",
    "finding.smoke-passed.fix": "",
    "finding.prediction-disproved.title": "冒烟测试推翻了 check 在 {gpu} 上的预测 {prediction}",
    "finding.prediction-disproved.detail": "从文件看可能有问题，但 {tests} 在这张显卡上运行正确；以实测结果为准。",
    "finding.prediction-disproved.fix": "",
    "error.smoke_unknown_test": "没有名为 {name} 的冒烟测试。可用的测试：{choices}。",
    "error.extension_missing": "扩展库 {path} 不存在。",
    "ui.doctor.smoke": "冒烟测试",
    "ui.doctor.test": "测试",
    "ui.doctor.gpu": "显卡",
    "ui.doctor.status": "结果",
    "ui.doctor.time": "用时",
    "ui.doctor.error": "错误 / 原因",
    "ui.doctor.running": "正在 {gpu} 上运行 {test}",
    "ui.doctor.recommend": "推荐设置",
    "ui.doctor.setting": "设置",
    "ui.doctor.value": "值",
    "ui.doctor.why": "原因",
    "ui.doctor.source": "依据",
    "ui.doctor.on": "开启",
    "ui.doctor.off": "关闭",
    "ui.doctor.cpu": "开启，在 CPU 上运行",
    "ui.doctor.yes": "需要",
    "ui.doctor.no": "不需要",
    "ui.doctor.unknown": "未知",
    "ui.doctor.fp16": "半精度（FP16）推理",
    "ui.doctor.v2pro_sv": "启用v2Pro声纹",
    "ui.doctor.arch_list": "TORCH_CUDA_ARCH_LIST",
    "ui.doctor.upgrade_needed": "是否需要升级 torch",
    "ui.doctor.source.smoke": "冒烟测试",
    "ui.doctor.source.prediction": "预测（测试无法运行）",
    "ui.doctor.source.facts": "本机情况",
    "ui.doctor.source.default": "GPT-SoVITS 默认值",
    "recommend.fp16.cuda_unusable": "{gpu} 上无法使用 CUDA：GPT-SoVITS 会在 CPU 上以 fp32 运行。",
    "recommend.fp16.smoke_broke": "{gpu} 上的半精度运算出错（{tests}）。",
    "recommend.fp16.smoke_passed": "{gpu} 上的半精度运算全部正确（{tests}）。",
    "recommend.fp16.predicted_risk": "半精度测试无法运行；check 预测 {gpu} 会出问题（{finding}）。",
    "recommend.fp16.old_gpu": "{gpu}（计算能力 {cc}）属于 GPT-SoVITS 自己也用 fp32 运行的显卡。",
    "recommend.fp16.default": "没有发现 {gpu} 不能用半精度的证据，但没有运行半精度测试。",
    "recommend.fp16.no_torch": "这个运行环境里没有安装 torch。",
    "recommend.fp16.cpu_torch": "torch {torch} 是 CPU 版：推理在 CPU 上以 fp32 运行。",
    "recommend.fp16.no_gpu": "没有 NVIDIA 显卡：推理在 CPU 上以 fp32 运行。",
    "recommend.v2pro_sv.cuda_unusable": "{gpu} 上无法使用 CUDA；声纹提取和其他部分一样在 CPU 上运行。",
    "recommend.v2pro_sv.smoke_broke_cpu": "rfft().abs() 在 {gpu} 上出错（{tests}），但在 CPU 上正常：保留声纹，改在 CPU 上运行。",
    "recommend.v2pro_sv.smoke_broke_off": "rfft().abs() 在 {gpu} 上出错（{tests}），在 CPU 上也出错：关闭声纹。",
    "recommend.v2pro_sv.smoke_passed": "rfft().abs() 在 {gpu} 上运行正确（{tests}）。",
    "recommend.v2pro_sv.predicted_risk": "FFT 测试无法运行；check 预测 {gpu} 上 NVRTC 会出错（{finding}）。",
    "recommend.v2pro_sv.default": "没有发现 {gpu} 不能做声纹提取的证据，但没有运行 FFT 测试。",
    "recommend.v2pro_sv.no_torch": "这个运行环境里没有安装 torch。",
    "recommend.v2pro_sv.cpu_torch": "torch {torch} 是 CPU 版：声纹提取在 CPU 上运行。",
    "recommend.v2pro_sv.no_gpu": "没有 NVIDIA 显卡：声纹提取在 CPU 上运行。",
    "recommend.arch_list.value": "本机显卡的计算能力：{value}。",
    "recommend.arch_list.unknown": "不知道任何显卡的计算能力。",
    "recommend.arch_list.note": "TORCH_CUDA_ARCH_LIST 只影响在本机上编译的 CUDA 扩展（torch.utils.cpp_extension 之类）。"
    "它不会给已经装好的 torch 增加内核，也不会改变 NVRTC 能为哪些显卡编译：半精度崩溃和 v2Pro 声纹崩溃它都解决不了，升级 torch 才能解决。",
    "recommend.upgrade.no_torch": "这个运行环境里没有安装 torch。",
    "recommend.upgrade.cpu_torch": "机器上有 NVIDIA 显卡，但 torch {torch} 是 CPU 版。",
    "recommend.upgrade.no_gpu": "没有 NVIDIA 显卡：现在的 torch 已经够用。",
    "recommend.upgrade.smoke_broke": "torch {torch} 在这张显卡上出错（{tests}）：根本解决办法是换成为它编译的版本。",
    "recommend.upgrade.smoke_passed": "torch {torch} 在这张显卡上通过了所有关键测试。",
    "recommend.upgrade.predicted": "关键测试无法运行；check 预测 torch {torch} 不适合这张显卡（{finding}）。",
    "recommend.upgrade.default": "没有发现 torch {torch} 有问题的证据，但关键测试没有全部运行。",
}
for _status, _word in STATUS.items():
    MESSAGES[f"smoke.status.{_status}"] = _word
for _reason, _text in SKIP_REASONS.items():
    MESSAGES[f"smoke.skip.{_reason}"] = _text
    MESSAGES[f"finding.smoke-skipped-{_reason}.title"] = f"{{gpu}} 上跳过了冒烟测试：{_text}"
    MESSAGES[f"finding.smoke-skipped-{_reason}.detail"] = "{tests}。{detail}"
    MESSAGES[f"finding.smoke-skipped-{_reason}.fix"] = ""
for _test, (_what, _why) in TESTS.items():
    _fix = FIXES[FEATURE_OF[_test]]
    MESSAGES[f"smoke.test.{_test}"] = _what
    MESSAGES[f"finding.smoke-{_test}-failed.title"] = f"冒烟测试 {_test} 在 {{gpu}} 上失败：{_what}"
    MESSAGES[f"finding.smoke-{_test}-failed.detail"] = f"{_why}错误：{{error}}"
    MESSAGES[f"finding.smoke-{_test}-failed.fix"] = _fix
    MESSAGES[f"finding.smoke-{_test}-crashed.title"] = f"冒烟测试 {_test} 在 {{gpu}} 上导致进程崩溃：{_what}"
    MESSAGES[f"finding.smoke-{_test}-crashed.detail"] = (
        f"{_why}进程在 {{stage}} 阶段以 {{exit}} 结束；WebUI 也会这样直接退出。{{error}}")
    MESSAGES[f"finding.smoke-{_test}-crashed.fix"] = _fix
    MESSAGES[f"finding.smoke-{_test}-timeout.title"] = f"冒烟测试 {_test} 在 {{gpu}} 上没有完成：{_what}"
    MESSAGES[f"finding.smoke-{_test}-timeout.detail"] = (
        f"{_why}{{seconds}} 秒后仍无结果（{{stage}} 阶段）。没有原生内核的显卡第一次运行时可能要花几分钟编译内核；"
        "如果是卡死，WebUI 也会卡死。")
    MESSAGES[f"finding.smoke-{_test}-timeout.fix"] = "用更长的 --test-timeout 再运行一次 {cmd} doctor；如果仍然超时：" + _fix
