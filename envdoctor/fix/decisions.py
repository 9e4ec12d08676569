"""What fix knows and decides: the diagnosis, the choices, and the outcome. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

KEEP_WITH_WORKAROUNDS = "A"
UPGRADE = "B"
LEAVE = "C"
CHOICES = (KEEP_WITH_WORKAROUNDS, UPGRADE, LEAVE)


@dataclass(frozen=True)
class FixOptions:
    root: Optional[str] = None
    lang: str = "en"
    choose: Optional[str] = None  # "A" | "B" | "C": decided beforehand (scripts), else asked
    yes: bool = False  # do not ask before changing anything
    wheelhouse: Optional[str] = None  # folder or .zip of wheels (a "fix pack"): B works offline
    index_url: Optional[str] = None
    mirror: Optional[str] = None  # a mirrors.yaml name for B's wheels (--mirror, or asked before B)
    live: bool = True  # let check import torch in the runtime's own Python
    log: Optional[str] = None  # a WebUI log to explain (default: the newest one found)
    report_dir: Optional[str] = None  # where a failure's support report goes (default: the root)


@dataclass(frozen=True)
class MirrorOption:
    """A wheel source the user can pick for B (a mirrors.yaml row, in the user's language)."""

    name: str
    title: str
    region: str  # "global" | "cn"


@dataclass(frozen=True)
class Finding:
    """The part of a check finding fix shows and reasons about."""

    code: str
    severity: str
    title: str
    fix: str = ""


@dataclass(frozen=True)
class Diagnosis:
    exit_code: int  # check's: 0 ready, 1 warnings, 2 will fail, 3 could not check
    verdict: str
    summary: str
    blocking: Tuple[Finding, ...]
    warnings: Tuple[Finding, ...]
    simulated_gpu: bool  # GPUs came from ENVDOCTOR_GPUS or a demo: smoke tests cannot prove anything
    gpu_names: Tuple[str, ...] = ()
    torch: str = ""
    log_errors: Tuple[str, ...] = ()  # titles of known errors found in the latest WebUI log
    log_path: Optional[str] = None
    error: str = ""  # why the check could not run (exit 3)


@dataclass(frozen=True)
class Choice:
    key: str  # A | B | C
    available: bool
    resolves: bool  # carrying it out is expected to leave no blocking finding
    gives: Tuple[str, ...] = ()  # message keys' rendered lines: what the user gains
    costs: Tuple[str, ...] = ()  # what the user pays (speed, download, disk, time)
    reason: str = ""  # why it is unavailable, rendered
    details: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FixPlan:
    diagnosis: Diagnosis
    choices: Tuple[Choice, ...]
    recommended: str

    def choice(self, key: str) -> Choice:
        return next(c for c in self.choices if c.key == key)


@dataclass
class Step:
    name: str  # "check" | "explain" | "configure" | "upgrade" | "doctor" | "rollback" | "revert" | "report"
    exit_code: int
    summary: str = ""


@dataclass
class FixOutcome:
    # "nothing-to-do" | "planned" | "fixed" (changed, check passes, smoke tests passed on the GPU) |
    # "changed-unproven" (changed, check passes, no GPU here to prove it) | "unchanged" (nothing to change) |
    # "left" | "unavailable" | "failed" | "failed-rolled-back" | "could-not-check" | "cancelled"
    status: str
    exit_code: int
    plan: Optional[FixPlan] = None
    chosen: Optional[str] = None
    steps: List[Step] = field(default_factory=list)
    report_path: Optional[str] = None
    final: Optional[Diagnosis] = None
    proven: Optional[bool] = None  # smoke tests passed on the GPU; None when they could not run
    mirror: Optional[str] = None  # the mirror B took its wheels from (None: the plan's own source)
    changed: Optional[bool] = None  # the chosen change really changed files (None: nothing was carried out)
    failure: str = ""  # why the change could not be made (the child's own message), for the text view
