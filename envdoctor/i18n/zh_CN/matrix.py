"""矩阵可信度相关消息：降级的阻断项与 `envdoctor matrix`。"""

MESSAGES = {
    "finding.blocker-unverified.title": "尚未确认，因此未阻断：{finding}（依据的矩阵条目尚未核实）",
    "finding.blocker-unverified.detail": "envdoctor 本应在此停止（退出码 2），但它依据的条目（{fact}）尚未经一手资料或实测核实，"
                                         "因此只作为警告。",
    "finding.blocker-unverified.fix": "运行 {cmd} doctor：它会用已安装的运行环境实际测试显卡，给出确定结论。",
    "ui.matrix.title": "兼容性矩阵",
    "ui.matrix.version": "版本",
    "ui.matrix.date": "日期",
    "ui.matrix.where": "读取位置",
    "ui.matrix.rows": "条目数",
    "ui.matrix.verified": "已核实",
    "ui.matrix.verified_blocking": "可导致阻断的条目中已核实",
    "ui.matrix.by_kind": "来源类型",
    "ui.matrix.sources": "引用最多的来源",
    "ui.matrix.unverified": "未核实、但可能导致阻断的条目（只会给出警告）",
    "ui.matrix.share": "{verified} / {rows}（{percent}%）",
}
