"""关于 envdoctor 在整合包中的状态文件夹（.envdoctor、整合包锁）及其缓存的消息。"""

MESSAGES = {
    "state.busy": "另一个 envdoctor 正在修改 {path}（`{command}`，进程 {pid}，开始于 {since}）。"
                  "同一时间只能有一个命令修改整合包：请等它结束后再运行。本次没有做任何更改。",
    "state.linked": "{path} 是一个链接（指向 {target}）。envdoctor 只把自己的文件（备份、日志、锁）放在整合包内真实的 "
                    ".envdoctor 文件夹中，从不通过链接写入；本次没有做任何更改。请删除该链接（或把真实文件夹移到该处）后再运行。",
    "state.not_folder": "{path} 不是文件夹；envdoctor 需要在此保存自己的文件。请把它移走后再运行。本次没有做任何更改。",
    "state.cannot_lock": "envdoctor 无法创建锁文件 {path}（{detail}）；该文件夹是否只读？本次没有做任何更改。",
    "state.unreadable": "无法读取 {path}（{detail}）；本次没有做任何更改。",
    "cache.untrusted": "缓存文件夹 {path} 不安全（{reason}）：其他用户可能在其中放入 envdoctor 会信任的文件。"
                       "改用私有文件夹 {fallback}。",
    "cache.reason.owner": "它属于其他用户",
    "cache.reason.writable": "其他用户可以写入",
    "cache.reason.link": "它是一个链接",
    "cache.reason.not_folder": "它不是文件夹",
}
