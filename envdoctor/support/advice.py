"""configure's `auto`: what this machine needs, from the check (and doctor's recommendation logic) run
on the bundle. An action above the pipeline; gptsovits/recommend.py turns its findings into settings.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

from envdoctor.check.pipeline import run_check
from envdoctor.doctor.recommend import recommend as doctor_recommend
from envdoctor.errors import EnvdoctorError
from envdoctor.fileio.paths import host_platform
from envdoctor.gptsovits.mitigations import G2PW_NO_KERNELS
from envdoctor.gptsovits.recommend import Recommendation, arch_list_from_gpus, from_doctor
from envdoctor.i18n import message
from envdoctor.model import Facts, Finding, format_cc
from envdoctor.probes import bundle_machine
from envdoctor.probes.collect import CollectOptions
from envdoctor.probes.gpus import OverrideError, detect_gpus


def detect_arch_list(bundle_os: Optional[str] = None) -> Tuple[Optional[str], str]:
    """This machine's compute capabilities, for `--arch-list auto`. A bundle for another OS (BUNDLE_OS
    "windows" examined from Linux/WSL, or "posix" from Windows) runs on its user's machine, whose GPU
    this one is not: nothing is detected there (unless ENVDOCTOR_GPUS says what to assume)."""
    host = host_platform()
    if bundle_os is not None and (bundle_os == "windows") != (host == "windows") and not bundle_machine.overridden():
        platform = "windows" if bundle_os == "windows" else "linux"
        attempt = bundle_machine.unknown_machine(platform, host).attempts[0]
        return None, f"{attempt.source}: {attempt.detail}"
    try:
        gpus = detect_gpus()
    except OverrideError as exc:
        return None, str(exc)
    names = ", ".join(f"{g.name} ({format_cc(g.compute_capability)})" for g in gpus.gpus)
    source = next((a.source for a in gpus.attempts if a.ok), "none")
    return arch_list_from_gpus(gpus), f"{source}: {names or 'no GPU'}"


def recommend(root: str, live: bool = True) -> Recommendation:
    """Run the check on ROOT's runtime and turn its findings into advice; never raises."""
    try:
        report = run_check(CollectOptions(root=root, live=live))
    except EnvdoctorError as exc:
        return Recommendation(error=message("en", exc.key, **exc.params))
    except Exception as exc:  # a broken probe must not stop configure; the user still gets explicit choices
        return Recommendation(error=f"{type(exc).__name__}: {exc}")
    return from_check(report.facts, report.findings)


def from_check(facts: Facts, findings: Sequence[Finding]) -> Recommendation:
    """Pure: doctor's recommendation logic without smoke results, the same advice doctor gives from findings."""
    advice = from_doctor(doctor_recommend(facts, (), findings))
    g2pw = next((f for f in findings if f.code == G2PW_NO_KERNELS), None)
    if g2pw is None:
        return advice
    why = f"check: {g2pw.code} ({g2pw.params.get('binary', '')}, {g2pw.params.get('arch', '')})"
    return dataclasses.replace(advice, g2pw="cpu", g2pw_evidence=why)
