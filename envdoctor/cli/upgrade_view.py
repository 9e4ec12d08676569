"""Rendering for upgrade / rollback / recover: the plan table, progress bars, JSON envelopes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from envdoctor import __version__
from envdoctor.cli.ui import Ui
from envdoctor.model import to_jsonable
from envdoctor.upgrade.events import Events

if TYPE_CHECKING:  # every command imports this module for `interrupted_notice`: keep it light
    from envdoctor.upgrade.plan import Plan
    from envdoctor.upgrade.resolve import Resolution
    from envdoctor.upgrade.verify import VerifyStep

SCHEMA = "envdoctor.upgrade"
SCHEMA_VERSION = 1


def envelope(command: str, ui: Ui, exit_code: int, **body: Any) -> Dict[str, Any]:
    out = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "envdoctor_version": __version__,
           "command": command, "lang": ui.lang, "exit_code": exit_code}
    out.update({k: to_jsonable(v) for k, v in body.items()})
    return out


def mb(value: Optional[int]) -> str:
    """Human-readable size: '870 B', '12.4 MB', '3.21 GB'."""
    if value is None:
        return "?"
    for unit, scale, digits in (("GB", 1 << 30, 2), ("MB", 1 << 20, 1), ("KB", 1 << 10, 0)):
        if value >= scale:
            return f"{value / scale:,.{digits}f} {unit}"
    return f"{value} B"


def plan_status_text(plan: Plan, ui: Ui, driver: Optional[str], python: Optional[str]) -> str:
    return ui.text(f"upgrade.status.{plan.status}", driver=driver or "-", needed=plan.driver_needed or "?",
                   python=python or "?")


def show_plan(plan: Plan, ui: Ui, status_text: str, resolution: Optional[Resolution],
              disk_needed: Optional[int], resolve_note: Optional[str]) -> None:
    from rich.table import Table

    console = ui.console()
    console.print(f"[bold]{ui.text('upgrade.title')}[/bold]")
    console.print(status_text)
    if plan.target is None:
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    current = ", ".join(f"{k} {v}" for k, v in plan.current.items() if v) or "-"
    table.add_row(ui.text("upgrade.row.current"), current)
    table.add_row(ui.text("upgrade.row.target"), ", ".join(plan.target.requirements()))
    table.add_row(ui.text("upgrade.row.variant"), f"{plan.target.variant} (CUDA {plan.target.cuda or '-'})")
    table.add_row(ui.text("upgrade.row.driver"), plan.target.min_driver or "-")
    table.add_row(ui.text("upgrade.row.known_good"),
                  ui.text("upgrade.yes") if plan.target.known_good else ui.text("upgrade.no"))
    table.add_row(ui.text("upgrade.row.index"), plan.wheelhouse or plan.index_url or "-")
    if plan.constraints:
        table.add_row(ui.text("upgrade.row.constraints"), ", ".join(plan.constraints))
    if resolution is not None:
        table.add_row(ui.text("upgrade.row.wheels"),
                      ", ".join(f"{w.name} {w.version}" for w in resolution.wheels) or "-")
        table.add_row(ui.text("upgrade.row.download"), mb(resolution.download_bytes))
        changed = {w.name.lower() for w in resolution.wheels}
        kept = [k for k in plan.kept if k.split("==")[0] not in changed]
    else:
        table.add_row(ui.text("upgrade.row.download"), ui.text("upgrade.size_unknown"))
        kept = list(plan.kept)
    table.add_row(ui.text("upgrade.row.disk"), mb(disk_needed) if disk_needed else ui.text("upgrade.size_unknown"))
    table.add_row(ui.text("upgrade.row.kept"), ui.text("upgrade.kept_count", count=len(kept)))
    console.print(table)
    for note in plan.notes:
        console.print(f"[yellow]{ui.text('upgrade.note.' + note.key, **note.params)}[/yellow]")
    if resolve_note:
        console.print(resolve_note)


class ConsoleEvents(Events):
    """Progress for a terminal: one line per step, rich bars for staging and downloads."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.console = ui.console(stderr=True)
        self._progress: Any = None
        self._tasks: Dict[str, Any] = {}

    def _bar(self, kind: str) -> Any:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if self._progress is None:
            if kind == "download":
                columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                           TimeRemainingColumn())
            else:
                columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
            self._progress = Progress(*columns, console=self.console, transient=False)
            self._progress.start()
        return self._progress

    def _close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks = {}

    def step(self, name: str, **params: object) -> None:
        self._close()
        self.console.print(f"[bold]>[/bold] {self.ui.text('upgrade.step.' + name, **params)}")

    def stage_progress(self, done: int, total: int) -> None:
        bar = self._bar("stage")
        task = self._tasks.get("stage")
        if task is None:
            task = self._tasks["stage"] = bar.add_task("files", total=total or None)
        bar.update(task, completed=done)

    def download_progress(self, filename: str, done: int, total: Optional[int]) -> None:
        bar = self._bar("download")
        task = self._tasks.get(filename)
        if task is None:
            task = self._tasks[filename] = bar.add_task(filename[:40], total=total)
        bar.update(task, completed=done, total=total)

    def verify_step(self, step: VerifyStep) -> None:
        self._close()
        from envdoctor.i18n.lines import display_params, localize_line

        color = {"ok": "green", "failed": "red"}.get(step.status, "yellow")
        status = display_params(self.ui.lang, {"status": step.status})["status"]
        self.console.print(self.ui.text("upgrade.verify.step", name=step.name, status=f"[{color}]{status}[/{color}]",
                                        detail=localize_line(self.ui.lang, step.detail[:200])))

    def finish(self) -> None:
        self._close()


def interrupted_notice(root: Optional[str], ui: Ui) -> Optional[Dict[str, str]]:
    """The notice every upgrade command prints when a transaction was interrupted (None if none)."""
    from envdoctor.upgrade.layout import Layout
    from envdoctor.upgrade.recover import first_interrupted

    base = os.path.abspath(root or os.getcwd())
    tx = first_interrupted(Layout(base))
    if tx is None:
        return None
    text = ui.text("upgrade.interrupted_notice", root=base, txid=tx.txid)
    ui.console(stderr=True).print(f"[bold yellow]{text}[/bold yellow]")  # stderr: --json stdout stays clean
    return {"txid": tx.txid, "message": text}
