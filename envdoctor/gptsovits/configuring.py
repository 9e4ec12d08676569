"""`envdoctor configure`'s job, without the command line: resolve the settings, plan every file change,
apply it when asked, and describe the changes (unified diffs). The CLI parses, asks for the advice
(`auto` needs the check, which sits above this package: it is passed in) and renders.
"""

from __future__ import annotations

import difflib
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from envdoctor.fileio.bundlestate import BundleLock
from envdoctor.gptsovits import plan as planner
from envdoctor.gptsovits import writer
from envdoctor.gptsovits.layout import Installation
from envdoctor.gptsovits.settings import Settings, resolve
from envdoctor.gptsovits.textfile import ConfigureError


@dataclass
class Outcome:
    settings: Settings
    plan: planner.Plan
    changes: List[Dict[str, str]]  # {"file", "action": create|modify|delete, "diff"}
    applied: bool

    @property
    def exit_code(self) -> int:
        """0 done or nothing to do; 1 done, but some target was refused (its text is not one we know)."""
        return 1 if self.plan.refusals else 0


def configure(installation: Installation, requested: Mapping[str, Optional[str]], apply: bool,
              advice: Callable[[], Any], detect_arch_list: Callable[[], Tuple[Optional[str], str]],
              launcher_check: Optional[bool], check_command: Optional[str], message: Callable[..., str],
              host: str) -> Outcome:
    """Plan (and with apply, write) the settings. advice() is called only when a setting is `auto`.
    Applying holds the bundle lock from before the files are read: a plan made from files another
    writer is changing would back up the wrong original."""
    with BundleLock(installation.root, ConfigureError) if apply else nullcontext():
        return _configure(installation, requested, apply, advice, detect_arch_list, launcher_check, check_command,
                          message, host)


def _configure(installation: Installation, requested: Mapping[str, Optional[str]], apply: bool,
               advice: Callable[[], Any], detect_arch_list: Callable[[], Tuple[Optional[str], str]],
               launcher_check: Optional[bool], check_command: Optional[str], message: Callable[..., str],
               host: str) -> Outcome:
    asked: Dict[str, Any] = {}

    def remembered_advice() -> Any:
        asked["rec"] = advice()
        return asked["rec"]

    state = writer.State(installation.root)
    settings, remember = resolve(dict(requested), state.settings, remembered_advice, detect_arch_list,
                                 launcher_check, check_command)
    plan = planner.build(installation, settings, message, host)
    rec = asked.get("rec")
    if rec is not None and rec.upgrade:
        plan.notes.append(("configure.note.upgrade_needed", {}))
    if rec is not None and rec.error:
        plan.notes.append(("configure.note.auto_unknown", {"detail": rec.error}))
    applied = False
    if apply and (plan.writes or state.files):
        writer.apply(installation.root, plan.writes, remember)
        applied = True
    changes = [{"file": w.relative, "action": action(w), "diff": unified_diff(w.relative, *plan.texts[w.relative])}
               for w in plan.writes]
    return Outcome(settings, plan, changes, applied)


def action(write: Any) -> str:
    if write.after is None:
        return "delete"
    return "create" if write.before is None else "modify"


def unified_diff(relative: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), f"a/{relative}", f"b/{relative}",
                                 lineterm="")
    return "\n".join(lines)
