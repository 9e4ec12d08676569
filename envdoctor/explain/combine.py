"""Link a log's known errors to what envdoctor sees on this machine.

The matrix names, per known error, the check/doctor findings that explain it (`related_findings`).
A match is "explained" when such a finding (not OK) is present now, "not-seen" when the machine was
checked and none is (the log may be older than an upgrade, or from another machine), "unknown" when
the machine was not checked or the matrix names no related finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from envdoctor.explain.matcher import Match
from envdoctor.model import CheckReport, Finding, Severity

EXPLAINED = "explained"
NOT_SEEN = "not-seen"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class MachineLink:
    code: str
    status: str
    findings: Tuple[Finding, ...] = ()


def link(matches: Sequence[Match], report: Optional[CheckReport]) -> List[MachineLink]:
    links = []
    for match in matches:
        related = match.error.related_findings
        if report is None or not related:
            links.append(MachineLink(match.error.code, UNKNOWN))
            continue
        hits = tuple(f for f in report.findings if f.code in related and f.severity is not Severity.OK)
        links.append(MachineLink(match.error.code, EXPLAINED if hits else NOT_SEEN, hits))
    return links
