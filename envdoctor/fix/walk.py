"""The guided repair: diagnose, offer, carry out, prove; on failure roll back and write a report."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import nullcontext
from typing import Any, Callable, List, Optional

from envdoctor.fileio.bundlestate import BundleLock
from envdoctor.fix import choices as plans
from envdoctor.fix import fixpack
from envdoctor.fix.children import Children, ChildResult
from envdoctor.fix.decisions import (
    KEEP_WITH_WORKAROUNDS,
    LEAVE,
    UPGRADE,
    Choice,
    Diagnosis,
    FixOptions,
    FixOutcome,
    FixPlan,
    MirrorOption,
    Step,
)
from envdoctor.matrix.loader import load_matrix
from envdoctor.report.logs import find_logs

Ask = Callable[[FixPlan], Optional[str]]  # returns "A" | "B" | "C", or None to cancel
Say = Callable[[str, dict], None]  # progress: a message key and its parameters
# Asked before B when no source was given: which mirror (a name), or None to cancel.
PickMirror = Callable[[List[MirrorOption]], Optional[str]]
Text = Callable[..., str]

CHECK_TIMEOUT_S = 600.0  # a cold check may import torch in the runtime (the live probe: up to 90 s) and scan
EXPLAIN_TIMEOUT_S = 300.0
CONFIGURE_TIMEOUT_S = 600.0
AUTO_SETTINGS = ("--fp16", "auto", "--v2pro-sv", "auto", "--g2pw", "auto")
MIRROR_PROBE_TIMEOUT_S = 5.0  # one page of a mirror: it answers quickly or not at all
REPORTS_FOLDER = "envdoctor-reports"  # in the GPT-SoVITS folder, unless --report-dir
KEEP_REPORTS = 5


def prune_reports(folder: str, keep_count: int, keep: str = "") -> List[str]:
    """Delete fix's own report zips in FOLDER beyond the newest KEEP_COUNT (never KEEP, never anything
    else); returns the deleted paths."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith("envdoctor-report-") and n.endswith(".zip")]
    except OSError:
        return []
    paths = sorted((os.path.join(folder, n) for n in names), reverse=True)  # the name is the time
    removed = []
    for path in paths[keep_count:]:
        if os.path.abspath(path) == os.path.abspath(keep) or os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed


class FixService:
    def __init__(self, options: FixOptions, text: Text, children: Optional[Children] = None,
                 say: Optional[Say] = None, attached: bool = False, pick_mirror: Optional[PickMirror] = None) -> None:
        self.options = options
        self.mirror = options.mirror
        self.pick_mirror = pick_mirror
        self.text = text
        self.children = children or Children(options.lang)
        self.say = say or (lambda key, params: None)
        self.attached = attached  # interactive: the changing steps show their own progress
        self.root = os.path.abspath(options.root or os.getcwd())
        self.steps: List[Step] = []
        # A zip fix pack is unpacked only once B is chosen (choosing A or C costs no disk); a folder, or
        # a pack a previous run unpacked, is used as it is.
        wheelhouse = options.wheelhouse
        self.pack_zip = wheelhouse if wheelhouse and os.path.isfile(wheelhouse) else None
        self.wheel_folder = wheelhouse if wheelhouse and not self.pack_zip else None
        self.suggested_mirror: Optional[str] = None  # a verified mirror that answers where the index did not

    # -- the steps -------------------------------------------------------------------------------

    def _record(self, name: str, result: ChildResult) -> ChildResult:
        summary = ""
        if result.envelope:
            error = result.envelope.get("error")
            summary = str(error.get("message", "")) if isinstance(error, dict) else str(
                result.envelope.get("summary") or result.envelope.get("verdict") or "")
        elif result.stderr:
            summary = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        self.steps.append(Step(name, result.exit_code, summary[:500]))
        return result

    def _root_args(self) -> List[str]:
        return ["--root", self.root]

    def _no_live(self) -> List[str]:
        return [] if self.options.live else ["--no-live"]

    def check(self) -> Diagnosis:
        self.say("fix.progress.check", {})
        result = self._record("check", self.children.json(["check", *self._root_args(), *self._no_live()],
                                                          timeout=CHECK_TIMEOUT_S))
        explain, log = None, self._latest_log()
        if log is not None and result.exit_code != 3:
            self.say("fix.progress.explain", {"log": log})
            explained = self._record("explain", self.children.json(["explain", log, *self._root_args()],
                                                                   timeout=EXPLAIN_TIMEOUT_S))
            explain = explained.envelope
        return plans.diagnosis_from(result.envelope or {}, result.exit_code, explain, log)

    def _latest_log(self) -> Optional[str]:
        if self.options.log:
            return self.options.log
        found = find_logs(self.root, limit=1)
        return found[0] if found else None

    def plan(self, diagnosis: Diagnosis) -> FixPlan:
        self.say("fix.progress.options", {})
        configure = self._record("configure-preview", self.children.json(
            ["configure", *self._root_args(), *AUTO_SETTINGS, *self._no_live()], timeout=CONFIGURE_TIMEOUT_S))
        self.suggested_mirror = None
        if self.pack_zip and self.wheel_folder is None:
            self.wheel_folder = fixpack.unpacked_folder(self.pack_zip)
        if self.pack_zip and self.wheel_folder is None:
            plan = plans.make_plan(diagnosis, configure.envelope, None, 3, offline=True, text=self.text,
                                   upgrade_choice_made=self._pack_choice(diagnosis))
        else:
            upgrade = self._record("upgrade-plan", self.children.json(
                ["upgrade", *self._root_args(), "--dry-run", *self._source_args()], timeout=CHECK_TIMEOUT_S))
            if plans.source_unreachable(upgrade.envelope, upgrade.exit_code) and not self._source_args():
                # PyTorch's index did not answer (mainland China, a firewall): a verified mirror that does
                # answer is proposed, and taken by Enter or --yes.
                variant = (((upgrade.envelope or {}).get("plan") or {}).get("target") or {}).get("variant")
                self.suggested_mirror = self._reachable_mirror(str(variant or ""))
            plan = plans.make_plan(diagnosis, configure.envelope, upgrade.envelope, upgrade.exit_code,
                                   offline=self.options.wheelhouse is not None, text=self.text,
                                   reachable_mirror=self.suggested_mirror)
        if diagnosis.exit_code == 1 and not diagnosis.log_errors and not diagnosis.blocking:
            # It runs (with warnings) and no log shows a failure: nothing to repair urgently.
            plan = FixPlan(plan.diagnosis, plan.choices, LEAVE)
        return plan

    def _pack_choice(self, diagnosis: Diagnosis) -> Choice:
        """B for a zip pack not unpacked yet. The planner runs against an empty wheelhouse: all it checks
        but the wheels (a runtime for another OS, nothing to upgrade, the driver...) still decides; the
        wheels are what the pack's directory lists (nothing is unpacked before B is chosen)."""
        pack = fixpack.inspect_pack(self.pack_zip or "")
        empty = tempfile.mkdtemp(prefix="envdoctor-pack-plan-")
        try:
            upgrade = self._record("upgrade-plan", self.children.json(
                ["upgrade", *self._root_args(), "--dry-run", "--wheelhouse", empty], timeout=CHECK_TIMEOUT_S))
        finally:
            shutil.rmtree(empty, ignore_errors=True)
        envelope = upgrade.envelope or {}
        listed = envelope.get("blockers")
        blockers: list = listed if isinstance(listed, list) else []
        other = [b for b in blockers if not isinstance(b, dict) or b.get("key") != "missing"]
        if not envelope or isinstance(envelope.get("error"), dict) or envelope.get("status") != "upgrade" or other:
            return plans.upgrade_choice(envelope or None, upgrade.exit_code or 2, offline=True, text=self.text)
        return plans.pack_choice(diagnosis, pack.wheels, pack.unpacked_bytes, self.text)

    def _source_args(self) -> List[str]:
        args: List[str] = []
        if self.wheel_folder:
            args += ["--wheelhouse", self.wheel_folder]
        if self.options.index_url:
            args += ["--index-url", self.options.index_url]
        if self.mirror:
            args += ["--mirror", self.mirror]
        return args

    def _reachable_mirror(self, variant: str) -> Optional[str]:
        """The first verified mirror (mainland China's first) whose page for VARIANT answers, or None."""
        import urllib.request

        mirrors = sorted((m for m in load_matrix().mirrors if m.verified and m.name != "official"),
                         key=lambda m: m.region != "cn")
        for mirror in mirrors:
            if mirror.per_variant and not variant:
                continue
            self.say("fix.progress.try_mirror", {"mirror": mirror.name})
            try:
                with urllib.request.urlopen(mirror.url_for(variant), timeout=MIRROR_PROBE_TIMEOUT_S) as answer:
                    if 200 <= getattr(answer, "status", 200) < 400:
                        return mirror.name
            except (OSError, ValueError):
                continue
        return None

    def mirror_options(self) -> List[MirrorOption]:
        """The mirrors the matrix knows, in the user's language (none: the question is not asked)."""
        lang = self.options.lang
        return [MirrorOption(m.name, m.title.get(lang) or m.title.get("en") or m.name, m.region)
                for m in load_matrix().mirrors]

    def _ask_mirror(self) -> bool:
        """Before B: where the wheels come from, unless a source was given. False: the user cancelled."""
        if self.mirror or self.options.wheelhouse or self.options.index_url:
            return True
        if self.pick_mirror is None:
            self.mirror = self.suggested_mirror  # --yes: the verified mirror that answers, if any
            return True
        offered = self.mirror_options()
        if self.suggested_mirror:  # first, so that Enter takes it
            offered = sorted(offered, key=lambda option: option.name != self.suggested_mirror)
        if not offered:
            return True
        picked = self.pick_mirror(offered)
        if picked is None:
            return False
        self.mirror = picked
        return True

    def _change(self, name: str, args: List[str]) -> ChildResult:
        if self.attached:
            code = self.children.attached(args)
            self.steps.append(Step(name, code))
            return ChildResult(code, None)
        return self._record(name, self.children.json(args))

    def apply(self, key: str) -> ChildResult:
        if key == KEEP_WITH_WORKAROUNDS:
            self.say("fix.progress.apply_a", {})
            return self._change("configure", ["configure", *self._root_args(), *AUTO_SETTINGS, "--yes",
                                              *self._no_live()])
        if self.pack_zip and self.wheel_folder is None:
            self.say("fix.progress.unpack", {"path": self.pack_zip})
            self.wheel_folder = fixpack.wheel_folder(self.pack_zip)  # refusals (no space...) are clear errors
        self.say("fix.progress.apply_b", {})
        if self.mirror:
            self.say("fix.progress.mirror", {"mirror": self.mirror})
        return self._change("upgrade", ["upgrade", *self._root_args(), "-y", *self._source_args()])

    @staticmethod
    def changed(key: str, plan: FixPlan, done: ChildResult, before: Diagnosis, after: Diagnosis) -> bool:
        """Whether carrying out KEY really changed something: the child's envelope says so (configure's
        `changes`, upgrade's status); a child that talked to the terminal itself is judged by its plan (A:
        the files the preview would write) or by the torch the runtime now has (B)."""
        envelope = done.envelope
        if key == KEEP_WITH_WORKAROUNDS:
            if envelope is not None:
                return bool(envelope.get("changes"))
            return bool(plan.choice(key).details.get("files"))
        if envelope is not None:
            return envelope.get("status") in ("committed", "kept")
        return bool(after.torch) and after.torch != before.torch

    def _remember_upgrade(self, done: ChildResult) -> None:
        """The support report's upgrade section reads this (envdoctor/support/upgrade_state.py): the
        reason of a failed B is otherwise only in the child's envelope, gone once fix ends."""
        from envdoctor.fileio.atomicfile import atomic_write
        from envdoctor.support.upgrade_state import ATTEMPT

        envelope = done.envelope or {}
        record = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "exit_code": done.exit_code,
                  "status": str(envelope.get("status") or ("failed" if done.exit_code else "done")),
                  "reason": self.failure_text(done) if done.exit_code else "",
                  "mirror": self.mirror or "", "wheelhouse": self.options.wheelhouse or ""}
        path = os.path.join(self.root, ATTEMPT)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
        except OSError:
            pass  # a read-only folder: the report just has no upgrade section

    @staticmethod
    def failure_text(done: ChildResult) -> str:
        """Why a change failed, from the child's envelope (its error, or its summary), else its stderr."""
        envelope = done.envelope or {}
        error = envelope.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if envelope.get("summary"):
            return str(envelope["summary"])
        lines = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def prove(self, diagnosis: Diagnosis) -> Optional[bool]:
        """doctor's smoke tests on the real GPU; None when there is none to run them on."""
        if diagnosis.simulated_gpu or not diagnosis.gpu_names:
            self.say("fix.progress.no_smoke", {})
            return None
        self.say("fix.progress.doctor", {})
        result = self._record("doctor", self.children.json(["doctor", *self._root_args()]))
        return result.exit_code in (0, 1)

    def undo(self, key: str) -> int:
        self.say("fix.progress.undo", {})
        if key == KEEP_WITH_WORKAROUNDS:
            return self._record("revert", self.children.json(["configure", *self._root_args(), "--revert"])
                                ).exit_code
        return self._record("rollback", self.children.json(["rollback", *self._root_args()])).exit_code

    def write_report(self) -> Optional[str]:
        # One folder for fix's reports, the newest few kept: each C or failure used to drop another zip
        # beside go-webui.bat.
        folder = os.path.abspath(self.options.report_dir or os.path.join(self.root, REPORTS_FOLDER))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            folder = self.root
        path = os.path.join(folder, time.strftime("envdoctor-report-%Y%m%d-%H%M%S.zip"))
        self.say("fix.progress.report", {"path": path})
        result = self._record("report", self.children.json(["report", *self._root_args(), "-o", path]))
        if self.options.report_dir is None:
            prune_reports(folder, KEEP_REPORTS, keep=path)
        return path if result.exit_code in (0, 1, 2) and os.path.isfile(path) else None

    # -- the whole walk ----------------------------------------------------------------------------

    def run(self, ask: Ask) -> FixOutcome:
        with self._bundle_lock():
            outcome = self._walk(ask)
        if outcome.chosen == UPGRADE:
            outcome.mirror = self.mirror
        return outcome

    def _walk(self, ask: Ask) -> FixOutcome:
        diagnosis = self.check()
        if diagnosis.exit_code == 3:
            return FixOutcome("could-not-check", 3, steps=self.steps, final=diagnosis)
        if diagnosis.exit_code == 0 and not diagnosis.log_errors:
            return FixOutcome("nothing-to-do", 0, steps=self.steps, final=diagnosis)
        plan = self.plan(diagnosis)
        chosen = ask(plan)
        if chosen is None:
            return FixOutcome("cancelled", diagnosis.exit_code, plan, steps=self.steps, final=diagnosis)
        choice = plan.choice(chosen)
        if chosen == LEAVE:
            report = self.write_report()
            return FixOutcome("left", diagnosis.exit_code, plan, chosen, self.steps, report, diagnosis)
        if not choice.available:
            report = self.write_report()
            return FixOutcome("unavailable", 2 if diagnosis.exit_code == 2 else diagnosis.exit_code, plan, chosen,
                              self.steps, report, diagnosis)
        if chosen == UPGRADE and not self._ask_mirror():
            return FixOutcome("cancelled", diagnosis.exit_code, plan, chosen, self.steps, final=diagnosis)
        done = self.apply(chosen)
        if chosen == UPGRADE:
            self._remember_upgrade(done)
        if done.exit_code != 0:
            # configure and upgrade are transactions: a failed one changed nothing (upgrade: the
            # candidate failed verification in its staged copy), so there is nothing to roll back.
            report = self.write_report()
            return FixOutcome("failed", 2, plan, chosen, self.steps, report, diagnosis,
                              failure=self.failure_text(done))
        final = self.check()
        changed = self.changed(chosen, plan, done, diagnosis, final)
        if not changed:
            # Honest: nothing was written, so nothing was fixed by this run, whatever the check says now.
            code = final.exit_code if final.exit_code != 3 else diagnosis.exit_code
            return FixOutcome("unchanged", code, plan, chosen, self.steps, None, final, None, changed=False)
        proven = self.prove(final) if final.exit_code in (0, 1) else None
        if final.exit_code in (0, 1) and proven is not False:
            status = "fixed" if proven else "changed-unproven"
            return FixOutcome(status, final.exit_code, plan, chosen, self.steps, None, final, proven, changed=True)
        self.undo(chosen)
        after = self.check()
        report = self.write_report()
        return FixOutcome("failed-rolled-back", 2, plan, chosen, self.steps, report, after, proven, changed=True)


    def _bundle_lock(self) -> Any:
        """The bundle's writer lock for the whole walk (diagnosis, choice, change, proof, undo): no other
        envdoctor changes the bundle in between. The configure/upgrade/rollback children run under it
        (they get its token). A folder that is missing or cannot be written takes no lock: the check
        says what is wrong with it, and nothing can be changed there anyway."""
        if not os.path.isdir(self.root):
            return nullcontext()
        lock = BundleLock(self.root, command="fix")
        try:
            lock.__enter__()
        except OSError:  # a read-only folder (the lock's own refusals, busy or linked, are errors)
            return nullcontext()
        environ = getattr(self.children, "environ", None)
        if isinstance(environ, dict):
            environ.update(lock.child_environment())
        return _Held(lock)


class _Held:
    """A lock already taken, released by the `with` block's end."""

    def __init__(self, lock: BundleLock) -> None:
        self.lock = lock

    def __enter__(self) -> BundleLock:
        return self.lock

    def __exit__(self, *exc_info: object) -> None:
        self.lock.__exit__(*exc_info)


def run_fix(options: FixOptions, text: Text, ask: Ask, children: Optional[Children] = None,
            say: Optional[Say] = None, attached: bool = False, pick_mirror: Optional[PickMirror] = None) -> FixOutcome:
    return FixService(options, text, children, say, attached, pick_mirror).run(ask)
