"""Chinese for the command line itself: every --help text (keyed by its English text, which stays in
the command modules) and argparse's own phrases (keyed by argparse's message ids). Applied by
envdoctor/cli/zh_argparse.py when the language is zh_CN."""

HELP = {
    "G2PW Chinese text frontend: on (GPT-SoVITS's choice: CUDA when onnxruntime offers it), cpu (auto: cpu when "
    "onnxruntime-gpu's CUDA provider has no kernel for this GPU)":
        "G2PW 中文文本前端：on（GPT-SoVITS 自己的选择：onnxruntime 提供 CUDA 时用 CUDA），cpu（auto：onnxruntime-gpu "
        "的 CUDA 执行器没有这张显卡的内核时用 CPU）",
    "after a successful upgrade, keep the newest N runtimes set aside for rollback and delete older ones (default 1)":
        "升级成功后，只保留最新的 N 个供回滚的运行环境，删除更旧的（默认 1）",
    "how many kept runtimes --prune keeps (2); after a rollback, older ones than the newest N are deleted (1)":
        "--prune 保留几个运行环境（2）；回滚后，比最新的 N 个更旧的会被删除（1）",
    "Checks, diagnoses and safely upgrades the GPU runtime of GPT-SoVITS bundles.":
        "检查、诊断并安全升级 GPT-SoVITS 整合包的显卡运行环境。",
    "show this help message and exit": "显示此帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "pre-launch check: will this GPU + driver + runtime torch build run? (exit 0/1/2/3)":
        "启动前检查：这张显卡、驱动和运行环境里的 torch 能否运行？（退出码 0/1/2/3）",
    "check, then run the operations that break GPT-SoVITS on new GPUs (in child processes, one per GPU)":
        "先检查，再实际运行在新显卡上会让 GPT-SoVITS 出错的操作（在子进程中，每张显卡一个）",
    "explain a traceback or WebUI log: cause, evidence and fix of the known errors in it":
        "解释报错信息或 WebUI 日志：其中已知错误的原因、证据和解决方法",
    "list the CUDA kernels (SASS/PTX per arch) inside shared libraries, and their coverage of a GPU":
        "列出动态库中的 CUDA 内核（按架构的 SASS/PTX），以及它们对某张显卡的覆盖情况",
    "write FP16, v2Pro speaker-verification and TORCH_CUDA_ARCH_LIST defaults into GPT-SoVITS (preview first)":
        "把半精度、v2Pro 声纹和 TORCH_CUDA_ARCH_LIST 的默认值写入 GPT-SoVITS（先预览）",
    "upgrade torch/torchaudio in runtime/ to a build with native kernels for this GPU (staged, verified, reversible)":
        "把 runtime/ 中的 torch/torchaudio 升级为带有此显卡原生内核的版本（先在副本中进行、验证，可撤销）",
    "restore the runtime replaced by the last upgrade; --list / --prune --keep N manage kept runtimes":
        "恢复上一次升级替换掉的运行环境；--list / --prune --keep N 管理保留的运行环境",
    "finish or undo an upgrade/rollback that was interrupted (crash, power loss, killed)":
        "完成或撤销被中断的升级/回滚（崩溃、断电、被强制结束）",
    "write a redacted support report (.zip with report.html, report.md, report.json and the evidence)":
        "生成已去除个人信息的支持报告（含 report.html、report.md、report.json 和证据文件的 .zip）",
    "summarize many envdoctor reports (report.json files or report zips under DIR)":
        "汇总多份 envdoctor 报告（DIR 下的 report.json 或报告压缩包）",
    "show the compatibility matrix: version, date, rows, verified share and sources":
        "显示兼容性矩阵：版本、日期、条目数、已核实比例和来源",
    "guided repair: diagnose, choose workarounds (A), an upgrade (B) or nothing (C), prove it, undo on failure":
        "引导式修复：诊断，选择规避设置（A）、升级（B）或保持现状（C），验证结果，失败则撤销",
    "message language (default: from the system locale)": "提示信息的语言（默认：跟随系统区域设置）",
    "print a versioned JSON envelope instead of text": "输出带版本号的 JSON，而不是文字",
    "show tracebacks of unexpected errors": "意外错误时显示完整的调用栈",
    "GPT-SoVITS folder holding runtime/ (default: current folder)": "包含 runtime/ 的 GPT-SoVITS 文件夹（默认：当前文件夹）",
    "check this interpreter's environment instead of ROOT/runtime": "检查这个 Python 解释器的环境，而不是 ROOT/runtime",
    "only GPU N (repeatable)": "只看第 N 张显卡（可重复）",
    "judge against this GPU instead of this machine's, e.g. 'NVIDIA GeForce RTX 5060 Ti@12.0'":
        "按这张显卡判断，而不是本机的显卡，例如 'NVIDIA GeForce RTX 5060 Ti@12.0'",
    "with --assume-gpu: the driver, e.g. 576.02@12.9": "与 --assume-gpu 一起用：驱动版本，例如 576.02@12.9",
    "take the GPU and driver from the report.json (or report zip) the user's machine wrote":
        "从使用者电脑生成的 report.json（或报告压缩包）中读取显卡和驱动",
    "do not run the runtime's Python (files only; fastest, no import torch)":
        "不运行运行环境里的 Python（只看文件；最快，不导入 torch）",
    "do not read CUDA binaries' fat-binary headers": "不读取 CUDA 库的 fat binary 头信息",
    "seconds to wait for the runtime's 'import torch' (default 90)": "等待运行环境执行 'import torch' 的秒数（默认 90）",
    "show details and evidence of every finding": "显示每条检查结果的详细说明和证据",
    "for launchers: where the files already say ready or will fail, do not wait for the runtime's import torch; "
    "read it in the background for the next start":
        "供启动脚本使用：如果根据文件已能判断可以运行或会出错，就不等待运行环境导入 torch，改为在后台读取，供下次启动使用",
    "check a built-in example bundle on a simulated GPU (no GPU needed); scenarios: rtx5060ti-v2pro "
    "(default: an RTX 5060 Ti with a v2Pro bundle), rtx5060ti-cu124, rtx5060ti-cu128, rtx4060-cu124":
        "在模拟显卡上检查内置的示例整合包（不需要显卡）；场景：rtx5060ti-v2pro（默认：RTX 5060 Ti 加 v2Pro 整合包）、"
        "rtx5060ti-cu124、rtx5060ti-cu128、rtx4060-cu124",
    "run only these tests (comma-separated names, prefixes such as 'fft', or globs)":
        "只运行这些测试（逗号分隔的名称、前缀如 'fft'，或通配符）",
    "do not run these tests": "不运行这些测试",
    "list the smoke tests and exit": "列出全部实测项目并退出",
    "seconds each test may take (default 180: a first run may JIT-compile kernels)":
        "每项测试允许的秒数（默认 180：首次运行可能要即时编译内核）",
    "also launch a kernel from this CUDA library (exports envdoctor_smoke_kernel)":
        "同时运行这个 CUDA 库中的一个内核（需导出 envdoctor_smoke_kernel）",
    "show details and evidence": "显示详细说明和证据",
    "log file (UTF-8, GBK or UTF-16); '-' or nothing reads standard input":
        "日志文件（UTF-8、GBK 或 UTF-16）；'-' 或不填则读取标准输入",
    "GPT-SoVITS folder, to relate the log to this machine's runtime": "GPT-SoVITS 文件夹，用来把日志和本机的运行环境对照",
    "that runtime's interpreter instead of ROOT/runtime": "该运行环境的 Python 解释器，而不是 ROOT/runtime",
    "only read the log; do not look at this machine": "只读日志，不查看本机",
    "files, or folders (every shared library below)": "文件或文件夹（其中的所有动态库）",
    "judge coverage for this compute capability (repeatable; default: this machine's GPUs)":
        "按这个计算能力判断覆盖情况（可重复；默认：本机的显卡）",
    "also list libraries without CUDA kernels": "同时列出不含 CUDA 内核的库",
    "read only the registered fat binaries, as cuobjdump does (faster; misses the embedded kernels of cuFFT and "
    "the like)": "只读取已注册的 fat binary，与 cuobjdump 相同（更快；会漏掉 cuFFT 等库内嵌的内核）",
    "GPT-SoVITS folder (default: current folder)": "GPT-SoVITS 文件夹（默认：当前文件夹）",
    "half-precision inference (auto: off when the check finds the FP16 abort risk)":
        "半精度推理（auto：检查发现半精度崩溃风险时关闭）",
    "v2Pro speaker verification: on, cpu (same feature, no NVRTC), off (auto: cpu when torch's NVRTC is too old "
    "for this GPU)": "v2Pro 声纹：on 开启、cpu（功能相同，不用 NVRTC）、off 关闭（auto：torch 的 NVRTC 太旧时用 cpu）",
    "TORCH_CUDA_ARCH_LIST for the launchers (auto: this GPU's compute capability)":
        "写入启动脚本的 TORCH_CUDA_ARCH_LIST（auto：此显卡的计算能力）",
    "tts_infer.yaml custom.device": "tts_infer.yaml 中的 custom.device",
    "launchers run `envdoctor check` first and stop when it says the WebUI will fail":
        "启动脚本先运行 envdoctor check，判断 WebUI 会出错时停止",
    "how the launchers call envdoctor (default: envdoctor)": "启动脚本调用 envdoctor 的命令（默认：envdoctor）",
    "auto: judge from files only, without import torch": "auto 时只根据文件判断，不导入 torch",
    "apply the changes shown": "应用显示的改动",
    "restore every file envdoctor changed, byte for byte": "把 envdoctor 改过的每个文件逐字节恢复原样",
    "print the settings in effect and where each comes from": "显示当前生效的设置及其来源",
    "with --yes: also print the lines changed in each file (the preview always shows them)":
        "与 --yes 一起用：同时显示每个文件改动的行（预览时总会显示）",
    "with --revert: restore even files changed since envdoctor wrote them": "与 --revert 一起用：即使文件在 envdoctor 写入后又被改过也恢复",
    "only consider GPU N (repeatable)": "只考虑第 N 张显卡（可重复）",
    "show the plan (versions, sizes, source) and stop": "显示升级计划（版本、大小、来源）后停止",
    "target torch version (overrides the matrix's choice)": "目标 torch 版本（代替矩阵的选择）",
    "wheel variant, e.g. cu128 (overrides the matrix's choice)": "安装包变体，例如 cu128（代替矩阵的选择）",
    "wheel index to use instead of PyTorch's (https mirror)": "代替 PyTorch 官方源的安装包索引（https 镜像）",
    "also take wheels from this flat page or folder (mirrors laid out as a directory; repeatable)":
        "同时从这个平铺页面或文件夹获取安装包（目录形式的镜像；可重复）",
    "take wheels from this known mirror (see --list-mirrors), read as its layout needs":
        "从这个已知镜像获取安装包（见 --list-mirrors），按其目录结构读取",
    "list the known mirrors and stop": "列出已知镜像后停止",
    "install only from wheels in this folder (offline)": "只从这个文件夹里的安装包安装（离线）",
    "plan an upgrade even if the current build is fine, or for a driver that cannot start the build":
        "即使当前版本没问题、或驱动无法运行目标版本，也制定升级计划",
    "how the staged copy shares files with the runtime (default: cheapest safe one)":
        "副本与运行环境共享文件的方式（默认：最省空间的安全方式）",
    "do not ask before changing the runtime": "修改运行环境前不询问",
    "restore this kept runtime (see --list) instead of the last backup": "恢复这个保留的运行环境（见 --list），而不是最近的备份",
    "list kept runtimes and stop": "列出保留的运行环境后停止",
    "delete kept runtimes beyond the newest --keep N": "删除最新 --keep N 个之外的保留运行环境",
    "how many kept runtimes --prune keeps (2)": "--prune 保留的运行环境个数（2）",
    "do not ask (rollback never asks; accepted for scripts)": "不询问（rollback 本来就不询问；为脚本保留此选项）",
    "do not ask (recover never asks; accepted for scripts)": "不询问（recover 本来就不询问；为脚本保留此选项）",
    "put back the runtime from before the interrupted step instead of finishing it": "放回中断步骤之前的运行环境，而不是把它完成",
    "zip to write (default: envdoctor-report-<time>.zip in the current folder)":
        "要写入的压缩包（默认：当前文件夹中的 envdoctor-report-<时间>.zip）",
    "also run the doctor's smoke tests (slower)": "同时运行实测（较慢）",
    "include the tail of this log and explain its last error (repeatable)": "附上这个日志的末尾并解释其中最后一个错误（可重复）",
    "keep user names, paths, addresses and tokens (do NOT post such a report publicly)":
        "保留用户名、路径、地址和令牌（这样的报告不要公开发布）",
    "re-render an existing report.json (or report zip) instead of checking this machine":
        "重新生成已有的 report.json（或报告压缩包），而不是检查本机",
    "folder searched (with subfolders) for reports": "要搜索报告的文件夹（含子文件夹）",
    "read the matrix from this folder (default: ENVDOCTOR_MATRIX_DIR, else the built-in one)":
        "从这个文件夹读取矩阵（默认：ENVDOCTOR_MATRIX_DIR，否则用内置的）",
    "A: workarounds (FP16 off, speaker verification on the CPU); B: upgrade torch; C: leave it (default: ask, "
    "or the recommendation with --yes)": "A：规避设置（关闭半精度、声纹改在 CPU 上）；B：升级 torch；C：保持现状"
    "（默认：询问；加 --yes 时采用推荐方案）",
    "do not ask; take --choose or the recommendation": "不询问；采用 --choose 或推荐方案",
    "a folder or .zip of wheels (a fix pack): upgrade offline from it": "装有安装包的文件夹或 .zip（修复包）：从中离线升级",
    "wheel index or mirror for the upgrade": "升级所用的安装包索引或镜像",
    "a known mirror for the upgrade's wheels (envdoctor upgrade --list-mirrors); default: ask before B when "
    "there is a terminal": "升级安装包所用的已知镜像（见 upgrade --list-mirrors）；默认：在终端中于方案 B 前询问",
    "the WebUI log to explain (default: the newest one found)": "要解释的 WebUI 日志（默认：找到的最新日志）",
    "judge from files only (no import torch)": "只根据文件判断（不导入 torch）",
    "where a failure's support report goes (default: ROOT)": "失败时支持报告的存放位置（默认：ROOT 下的 envdoctor-reports）",
    "write fix-env.bat and fix-env.ps1 beside go-webui.bat and stop": "在 go-webui.bat 旁边写入 fix-env.bat 和 fix-env.ps1 后停止",
    "walk through fix on a built-in example bundle in a temporary folder, on a simulated GPU (nothing of yours is "
    "read or changed); scenarios as for check --demo":
        "在临时文件夹中的内置示例整合包和模拟显卡上演示修复流程（不会读取或修改你的文件）；场景与 check --demo 相同",
}

# argparse's own phrases (its gettext message ids, Python 3.9 to 3.13).
ARGPARSE = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "optional arguments": "选项",
    "show this help message and exit": "显示此帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选项 %(value)r（可选：%(choices)s）",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多只能有一个值",
    "expected at least one argument": "至少需要一个值",
    "expected %s argument": "需要 %s 个值",
    "expected %s arguments": "需要 %s 个值",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "ambiguous option: %(option)s could match %(matches)s": "选项不明确：%(option)s 可能是 %(matches)s",
    "ignored explicit argument %r": "忽略了多余的值 %r",
    "one of the arguments %s is required": "需要以下参数之一：%s",
    "unexpected option string: %s": "意外的选项：%s",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "argument \"-\" with mode %r": "参数 \"-\" 不能以模式 %r 使用",
    "can't open '%(filename)s': %(error)s": "无法打开 '%(filename)s'：%(error)s",
}

# scan's long description (envdoctor/cli/scan.py DESCRIPTION), whole.
SCAN_DESCRIPTION = (
    "列出动态库中的 CUDA 内核（按架构的 SASS/PTX），以及它们对某张显卡的覆盖情况。\n\n"
    "比 cuobjdump 看得更多：cuobjdump 只列出已注册的 fat binary（CUDA 运行时随库加载的那一个），"
    "而且完全读不了 Windows DLL。本扫描同样读取 ELF .so 和 PE .dll，还会在每个库的数据段中查找它自己加载的 "
    "fat binary 容器：NVIDIA 的 cuFFT 只注册一个单项的占位，却在那里放了约 24,000 个容器。"
    "这些容器单独列为“内嵌”，覆盖情况按注册的和内嵌的一起判断。"
)
