"""No false blocker: a blocking finding that rests on an unverified matrix fact becomes a warning.

Exit 2 stops someone's WebUI, so it may only rest on facts the matrix marks `verified` (a primary
source or a kept measurement, see envdoctor/matrix/verification.py) and on what was read from the
machine itself (a scan of the binaries, the live probe, NVML). When a rule would block on a fact
that is not verified, the finding keeps its code and text at warning severity, and a companion
finding `blocker-unverified` names the fact and says what to run to find out (`doctor`).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, List, Optional

from envdoctor.matrix.views import FactStatus
from envdoctor.model import Finding, Line, Severity

CODES = ("blocker-unverified",)


def block_or_warn(finding: Finding, facts: Iterable[Optional[FactStatus]]) -> List[Finding]:
    """[finding] when it does not block or every fact it rests on is verified; else the lowered pair."""
    unverified = [f for f in facts if f is not None and not f.verified]
    if finding.severity is not Severity.BLOCKING or not unverified:
        return [finding]
    refs = "; ".join(f"{f.file} {f.ref}" for f in unverified)
    lowered = dataclasses.replace(
        finding,
        severity=Severity.WARNING,
        params=dict(finding.params, unverified_fact=refs),
        evidence=finding.evidence + (Line(f"unverified matrix fact: {refs}", "line.unverified_fact", refs=refs),),
    )
    note = Finding("blocker-unverified", Severity.WARNING, dict(finding.params, finding=finding.code, fact=refs),
                   (Line(f"{finding.code} would block (exit 2); it rests on: {refs}", "line.would_block",
                         code=finding.code, refs=refs),), finding.gpu_index)
    return [lowered, note]
