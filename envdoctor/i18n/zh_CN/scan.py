"""`envdoctor scan` 的消息。"""

MESSAGES = {
    "ui.scan.binary": "二进制文件",
    "ui.scan.no_cuda": "在给定路径中没有找到 CUDA 内核。",
    "ui.scan.summary": "所有二进制文件在 {arch} 上的整体情况：{verdict}",
    "ui.scan.embedded": "内嵌",
    "ui.scan.embedded_note": (
        "“内嵌”：在库的数据段中找到、由库自行加载的 CUDA 内核包（fatbin，cuobjdump 不会列出）；"
        "判断覆盖情况时与已注册的部分合并计算。"
    ),
    "error.path_not_found": "{path} 不存在。",
    "error.bad_cc": "{value} 不是计算能力；请写成 8.6 或 12.0 这样的形式。",
}
