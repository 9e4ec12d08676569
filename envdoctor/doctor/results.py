"""What a smoke test run produced, and what doctor makes of it (frozen, JSON-able dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from envdoctor.model import CheckReport

PASSED = "passed"
FAILED = "failed"
CRASHED = "crashed"
TIMEOUT = "timeout"
SKIPPED = "skipped"
STATUSES = (PASSED, FAILED, CRASHED, TIMEOUT, SKIPPED)
# A test that ran and broke (crashed, failed) or never finished: each has its own finding per test.
BROKEN_STATUSES = (FAILED, CRASHED, TIMEOUT)
# Why a test was skipped: what the scripts pass to smoke.skip(), what the session decides from the facts,
# and "cuda-<status>" for the torch tests after a broken `cuda` test. Each has catalogue text
# (smoke.skip.<reason>); a reason not listed here is reported as UNKNOWN_REASON.
UNKNOWN_REASON = "unknown"
SKIP_REASONS = (
    "no-cuda-build", "no-cuda", "no-device", "no-sdpa", "no-backend-switch", "no-cuda-provider", "no-gpu",
    "no-extension", "no-runtime", "foreign-runtime", "simulated-gpu", "no-torch", "no-onnxruntime",
    *(f"cuda-{status}" for status in BROKEN_STATUSES), UNKNOWN_REASON,
)


@dataclass(frozen=True)
class SmokeResult:
    """One smoke test on one GPU (gpu_index None: no GPU was selected, torch chose its default)."""

    test: str
    gpu_index: Optional[int]
    status: str  # one of STATUSES
    reason: Optional[str] = None  # why it was skipped: a key of smoke.skip.* in the catalogues
    error: Optional[str] = None  # the captured error text (exception message, abort output)
    exit: Optional[str] = None  # how the child ended when it did not end normally: "SIGABRT", "0xC0000409"
    stage: Optional[str] = None  # the last stage the script announced before it ended
    duration_s: float = 0.0
    details: Dict[str, Any] = field(default_factory=dict)  # what the script measured (device, timings)
    known_error: Optional[str] = None  # matrix known-error code the error text matches

    @property
    def ran(self) -> bool:
        """True when the test produced evidence (passed or broke), False when it could not run."""
        return self.status in (PASSED, FAILED, CRASHED)

    @property
    def broke(self) -> bool:
        return self.status in (FAILED, CRASHED)


@dataclass(frozen=True)
class Setting:
    """One recommended setting: its value, why (a catalogue key + params), and where that came from.

    source: "smoke" (a test proved it), "prediction" (check's findings, when no test could run),
    "facts" (e.g. no usable GPU), "default" (nothing known against GPT-SoVITS' own default).
    """

    value: Any
    reason: str
    params: Dict[str, Any] = field(default_factory=dict)
    source: str = "default"
    evidence: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    fp16: Setting  # value: bool
    v2pro_sv: Setting  # value: "on" | "off" | "cpu"
    arch_list: Setting  # value: "12.0" / "8.6;12.0", None when unknown
    upgrade_needed: Setting  # value: bool


@dataclass(frozen=True)
class DoctorReport:
    check: CheckReport  # facts, findings (predictions reconciled with smoke results + smoke findings), verdict
    smoke: Tuple[SmokeResult, ...]
    recommendation: Recommendation
