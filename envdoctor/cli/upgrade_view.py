"""Rendering for upgrade / rollback / recover: the plan table, progress bars, JSON envelopes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from envdoctor.cli.ui import Ui
from envdoctor.model import to_jsonable
from envdoctor.result import CommandResult
from envdoctor.upgrade.events import Events
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import live_holder
from envdoctor.upgrade.recover import first_interrupted

# Every command imports this module for `interrupted_notice` (cli/main.py), so it stays light: rich's tables
# and bars, the plan, the preflight and the verify steps are imported where an upgrade shows them.
if TYPE_CHECKING:
    from envdoctor.upgrade.commands import Finished, PreparedUpgrade
    from envdoctor.upgrade.plan import Plan
    from envdoctor.upgrade.preflight import Preflight
    from envdoctor.upgrade.transaction import UpgradeResult
    from envdoctor.upgrade.verify import VerifyStep


def result(command: str, outcome: str, exit_code: int, render: Any = None, **body: Any) -> CommandResult:
    """An upgrade/rollback/recover result whose data is `body` made JSON-ready (`body` may hold its own
    `status`: the plan's or the transaction's)."""
    return CommandResult(command, outcome, exit_code, data={k: to_jsonable(v) for k, v in body.items()},
                         render=render)


def printer(text: str, style: str = "") -> Any:
    """A text view of one line."""
    return lambda ui: ui.console().print(f"[{style}]{text}[/{style}]" if style else text)


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


def show_plan(plan: Plan, ui: Ui, status_text: str, check: Optional[Preflight], check_error: Optional[str]) -> None:
    from rich.table import Table

    console = ui.console()
    console.print(f"[bold]{ui.text('upgrade.title')}[/bold]")
    console.print(status_text)
    if plan.target is None:
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", overflow="fold")
    table.add_column(overflow="fold")
    current = ", ".join(f"{k} {v}" for k, v in plan.current.items() if v) or "-"
    table.add_row(ui.text("upgrade.row.current"), current)
    table.add_row(ui.text("upgrade.row.target"), ", ".join(plan.target.requirements()))
    table.add_row(ui.text("upgrade.row.variant"), f"{plan.target.variant} (CUDA {plan.target.cuda or '-'})")
    table.add_row(ui.text("upgrade.row.driver"), plan.target.min_driver or "-")
    table.add_row(ui.text("upgrade.row.known_good"),
                  ui.text("upgrade.yes") if plan.target.known_good else ui.text("upgrade.no"))
    table.add_row(ui.text("upgrade.row.index"), source_text(plan, ui))
    if plan.constraints:
        table.add_row(ui.text("upgrade.row.constraints"), ", ".join(plan.constraints))
    kept = list(plan.kept)
    if check is not None:
        resolution = check.resolution
        table.add_row(ui.text("upgrade.row.wheels"),
                      ", ".join(f"{w.name} {w.version}" for w in resolution.wheels) or "-")
        if check.download_bytes:
            table.add_row(ui.text("upgrade.row.download"), mb(check.download_bytes))
        if check.local_bytes:
            table.add_row(ui.text("upgrade.row.local"), mb(check.local_bytes))
        changed = {w.name.lower() for w in resolution.wheels}
        kept = [k for k in plan.kept if k.split("==")[0] not in changed]
        table.add_row(ui.text("upgrade.row.disk"), mb(check.disk_needed))
    else:
        table.add_row(ui.text("upgrade.row.disk"), ui.text("upgrade.size_unknown"))
    table.add_row(ui.text("upgrade.row.kept"), ui.text("upgrade.kept_count", count=len(kept)))
    console.print(table)
    for note in list(plan.notes) + (list(check.notes) if check else []):
        console.print(f"[yellow]{ui.text('upgrade.note.' + note.key, **note.params)}[/yellow]")
    for text in blocker_texts(check.blockers if check is not None else plan.blockers, check, ui):
        console.print(f"[red]{text}[/red]")
    if check_error:
        console.print(f"[red]{ui.text('upgrade.check_failed', reason=check_error)}[/red]")


def source_text(plan: Plan, ui: Ui) -> str:
    """Where the wheels come from: wheelhouse, index, flat pages, and the mirror's name when one was chosen."""
    parts = [plan.wheelhouse] if plan.wheelhouse else [plan.index_url] if plan.index_url else []
    parts += [ui.text("upgrade.find_links", location=location) for location in plan.find_links]
    text = ", ".join(p for p in parts if p) or "-"
    return ui.text("upgrade.via_mirror", source=text, mirror=plan.mirror) if plan.mirror else text


def blocker_texts(blockers: Any, check: Any, ui: Ui) -> list:
    """Each reason the plan cannot run, in the user's language."""
    out = []
    for blocker in blockers:
        params = dict(blocker.params)
        if blocker.key == "missing" and check is not None:
            params["items"] = "; ".join(missing_text(m, ui) for m in check.missing if m.reason != "mislabeled")
        out.append(ui.text("upgrade.blocker." + blocker.key, **params))
    return out


def missing_text(item: Any, ui: Ui) -> str:
    """One unmet requirement in the user's language: what, for whom, and what the source has instead."""
    text = item.requirement if item.needed_by == "plan" else ui.text("upgrade.missing.by", req=item.requirement,
                                                                      by=item.needed_by)
    if item.reason == "no-build" and item.detail:
        text += ui.text("upgrade.missing.only", detail=item.detail)
    elif item.reason == "no-file" and item.detail and item.detail != "none":
        text += ui.text("upgrade.missing.has", detail=item.detail)
    elif item.reason == "conflict":
        text += ui.text("upgrade.missing.conflict", detail=item.detail)
    elif item.reason == "platform":
        text += ui.text("upgrade.missing.platform", detail=item.detail)
    return text


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
            columns: Tuple[Any, ...]
            if kind in ("download", "install"):
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
        if isinstance(params.get("size"), int):
            params["size"] = mb(params["size"])  # type: ignore[arg-type]
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

    def install_progress(self, done: int, total: int) -> None:
        bar = self._bar("install")
        task = self._tasks.get("install")
        if task is None:
            task = self._tasks["install"] = bar.add_task(self.ui.text("upgrade.install_bar"), total=total or None)
        bar.update(task, completed=done, total=total or None)

    def verify_step(self, step: VerifyStep) -> None:
        self._close()
        from envdoctor.i18n.lines import display_params, localize_line

        color = {"ok": "green", "failed": "red"}.get(step.status, "yellow")
        status = display_params(self.ui.lang, {"status": step.status})["status"]
        self.console.print(self.ui.text("upgrade.verify.step", name=step.name, status=f"[{color}]{status}[/{color}]",
                                        detail=localize_line(self.ui.lang, step.detail)[:200]))

    def notice(self, key: str, params: Dict[str, object]) -> None:
        text = self.ui.text(key, **params)
        if self._progress is not None:
            self._progress.console.print(f"[yellow]{text}[/yellow]")
        else:
            self.console.print(f"[yellow]{text}[/yellow]")

    def finish(self) -> None:
        self._close()


def kept_summary(layout: Layout, ui: Ui, cache: Optional[str]) -> tuple:
    """(the line that says what stays on disk and how to free it, its data) after a change or a listing."""
    from envdoctor.upgrade.keep import inventory, totals

    items = inventory(layout, cache)
    sums = totals(items)
    text = ui.text("upgrade.kept_disk", runtimes=sums["runtimes"], runtime_size=mb(sums["runtime_bytes"]),
                   cache_size=mb(sums["cache_bytes"]), root=layout.root,
                   cache=os.path.join(cache, "wheels") if cache else "-")
    return text, {"items": [to_jsonable(i) for i in items], **sums}


def orphan_notice(layout: Layout, ui: Ui) -> None:
    """A verified candidate kept for a runtime that has changed since can never be swapped in: every
    command says so (it holds gigabytes), with the command that frees it. Costs a walk of the runtime
    only where the journal holds a kept candidate at all."""
    from envdoctor.upgrade.journal import Journal

    journal = Journal(layout)
    if not any(t.last_event == "kept" for t in journal.transactions()):
        return
    from envdoctor.upgrade.keep import orphans, tree_size

    for tx in orphans(layout, journal):
        stage = layout.stage(tx.txid)
        size = tree_size(stage)[1] if os.path.isdir(stage) else 0
        text = ui.text("upgrade.orphan_notice", txid=tx.txid, size=mb(size), root=layout.root)
        ui.console(stderr=True).print(f"[yellow]{text}[/yellow]")


def interrupted_notice(root: Optional[str], ui: Ui) -> Optional[Dict[str, Any]]:
    """The notice every upgrade command prints when a transaction was interrupted (None if none)."""
    base = os.path.abspath(root or os.getcwd())
    tx = first_interrupted(Layout(base))
    if tx is None:
        orphan_notice(Layout(base), ui)
        return None
    holder = live_holder(Layout(base))
    if holder is not None:  # a live process holds the lock: it is running, not interrupted
        text = ui.text("upgrade.running_notice", root=base, txid=tx.txid, kind=tx.kind, pid=holder.get("pid", "?"),
                       since=holder.get("since", "?"))
        ui.console(stderr=True).print(f"[bold yellow]{text}[/bold yellow]")
        return {"txid": tx.txid, "message": text, "running": True, "pid": holder.get("pid"),
                "since": holder.get("since")}
    text = ui.text("upgrade.interrupted_notice", root=base, txid=tx.txid)
    ui.console(stderr=True).print(f"[bold yellow]{text}[/bold yellow]")  # stderr: --json stdout stays clean
    return {"txid": tx.txid, "message": text}


def retry_notifier(ui: Ui) -> Callable[[str, Dict[str, Any]], None]:
    """What `prepare` says while the plan is checked (a stalled page: retrying), on stderr."""
    def notify(key: str, params: Dict[str, Any]) -> None:
        ui.console(stderr=True).print(f"[yellow]{ui.text(key, **params)}[/yellow]")

    return notify


def prepared_texts(prepared: PreparedUpgrade, ui: Ui) -> Tuple[str, Optional[str]]:
    """(the plan's status line, why its preflight could not run or None)."""
    plan = prepared.plan
    status_text = plan_status_text(plan, ui, prepared.driver, prepared.runtime.python_version)
    error = prepared.check_error
    check_error = ui.text(error.key, **error.params) if error is not None else None
    if plan.target is not None and prepared.blockers:
        status_text = ui.text("upgrade.status.blocked")
    return status_text, check_error


def show_prepared(prepared: PreparedUpgrade, ui: Ui) -> None:
    """The plan, shown before the question that is about it."""
    status_text, check_error = prepared_texts(prepared, ui)
    show_plan(prepared.plan, ui, status_text, prepared.check, check_error)


def plan_result(prepared: PreparedUpgrade, ui: Ui, dry_run: bool, pending: Optional[Dict[str, Any]]) -> CommandResult:
    """A dry run, or a plan that cannot go on: the plan (shown already) and why, nothing changed."""
    plan, check, blockers, code = prepared.plan, prepared.check, prepared.blockers, prepared.exit_code
    status_text, check_error = prepared_texts(prepared, ui)
    summary = " ".join([status_text, *blocker_texts(blockers, check, ui)] + ([check_error] if check_error else []))
    resolution = None
    if check is not None:  # download_bytes: what crosses the network (0 for local files)
        resolution = {**to_jsonable(check.resolution), "download_bytes": check.download_bytes}
    # The plan was shown above; a blocked one ends with the line that says nothing was changed.
    final = printer(ui.text("upgrade.blocked_final"), "red") if code == 2 and plan.target is not None else None
    return result("upgrade", plan.status, code, final, dry_run=dry_run, status=plan.status,
                  summary=summary, plan=plan, blockers=blockers, resolution=resolution,
                  missing=check.missing if check else [],
                  download_bytes=check.download_bytes if check else None,
                  local_bytes=check.local_bytes if check else None,
                  disk_needed=check.disk_needed if check else None,
                  metadata_bytes=check.metadata_bytes if check else None,
                  check_notes=check.notes if check else [],
                  resolve_note=check_error, interrupted=pending)


def cancelled_result(plan: Plan, ui: Ui) -> CommandResult:
    return result("upgrade", "cancelled", 0, printer(ui.text("upgrade.cancelled")), dry_run=True,
                  status="cancelled", summary=ui.text("upgrade.cancelled"), plan=plan)


def events_for(ui: Ui) -> Events:
    """Progress bars on a terminal; silent events for --json."""
    return Events() if ui.json_mode else ConsoleEvents(ui)


def close_events(events: Events) -> None:
    if isinstance(events, ConsoleEvents):
        events.finish()


def outcome_text(done: UpgradeResult, ui: Ui) -> str:
    """What became of the transaction: done, kept back (runtime in use) or rejected by its verification."""
    if done.status == "kept":
        text = ui.text("upgrade.kept", processes=done.in_use, new=done.to_torch or "-")
    elif done.status == "committed":
        text = ui.text("upgrade.done", old=done.from_torch or "-", new=done.to_torch or "-")
        if done.reused:
            text += " " + ui.text("upgrade.reused", txid=done.reused)
        smoke = next((s for s in done.verify.steps if s.name == "smoke"), None)
        if smoke is not None and smoke.status == "skipped":
            text += " " + ui.text("upgrade.done_untested", reason=smoke.detail)
    else:
        failure = done.verify.failure
        text = ui.text("upgrade.verify_failed", step=failure.name if failure else "?",
                       detail=(failure.detail if failure else "")[:600])
        if failure is not None and failure.fix:
            text += " " + ui.text(failure.fix, **dict(failure.fix_params))
    # what the old runtime failed as well is not the upgrade's doing: said, never the reason to reject
    before = [s for s in done.verify.steps if s.before]
    if before:
        text += " " + ui.text("upgrade.broken_before", items="; ".join(f"{s.name}: {s.before}" for s in before)[:800])
    return text


def finished_result(plan: Plan, finished: Finished, ui: Ui) -> CommandResult:
    """The envelope and the closing line of a transaction that ran (commands.Finished)."""
    from envdoctor.upgrade.layout import layout_for_runtime

    done, code = finished.result, finished.exit_code
    text = outcome_text(done, ui)
    kept_data = None
    if finished.lists_kept_disk:  # what stays on disk, and how to free it
        kept_line, kept_data = kept_summary(layout_for_runtime(finished.root), ui, finished.cache)
        if finished.pruned:
            kept_data["pruned"] = finished.pruned
        text += " " + kept_line
    return result("upgrade", done.status, code, printer(text, "green" if code == 0 else "red"), dry_run=False,
                  status=done.status, summary=text, plan=plan, result=done, kept=kept_data)
