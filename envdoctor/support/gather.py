"""Gather a support report: run the check, read every piece of evidence, run doctor when asked.

The result is a report Document, NOT redacted yet: the CLI hands it to report.document.redact_document,
and only the redacted document reaches the renderers and the zip (envdoctor/report/).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from envdoctor import __version__
from envdoctor import envelope as envelopes
from envdoctor.check.pipeline import run_check
from envdoctor.errors import EnvdoctorError
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import CheckReport, Severity, format_cc, to_jsonable
from envdoctor.probes.collect import CollectOptions
from envdoctor.probes.gpus import OverrideError, detect_gpus
from envdoctor.probes.runner import Runner, SubprocessRunner
from envdoctor.report import logs
from envdoctor.report.check_data import check_data
from envdoctor.report.document import REPORT_SCHEMA_VERSION, Document
from envdoctor.support import evidence, seams
from envdoctor.support.upgrade_state import upgrade_state

SEVERITY_RANK = {s.value: s.rank for s in Severity}
MAX_NAMED_LOGS = 8  # with 64 KiB tails each, the zip stays well under a ticket system's attachment limit


@dataclass(frozen=True)
class ReportOptions:
    collect: CollectOptions = field(default_factory=CollectOptions)
    gpu: Optional[Sequence[int]] = None
    doctor: bool = False
    logs: Tuple[str, ...] = ()
    matrix_dir: Optional[str] = None



def report_time(environ: Optional[Mapping[str, str]] = None) -> str:
    """UTC now, or SOURCE_DATE_EPOCH (the reproducible-builds convention) so a report can be rebuilt exactly."""
    env = os.environ if environ is None else environ
    epoch = env.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = int(epoch) if epoch.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def gather(
    options: ReportOptions,
    lang: str,
    runner: Optional[Runner] = None,
    environ: Optional[Mapping[str, str]] = None,
    progress: Any = None,
    smoke_progress: Any = None,
) -> Document:
    """Run the check and read every piece of evidence. The result is NOT redacted yet.
    `progress` gets the message key of each step; `smoke_progress` each smoke test's start and end."""
    env = os.environ if environ is None else environ
    runner = runner or SubprocessRunner()
    step = progress or (lambda key: None)

    step("report.step.check")
    check: Optional[CheckReport] = None
    try:
        check = run_check(options.collect, select=options.gpu, runner=runner, matrix_dir=options.matrix_dir)
        # exit_code is the report command's (0: written); the checked machine's answer is the verdict.
        envelope = envelopes.write("report", lang, 0, check_data(check, lang))
    except EnvdoctorError as error:
        # "envdoctor cannot even find the runtime" is a support case too: report what can be read.
        envelope = envelopes.write("report", lang, 0, dict(_gpus_only(), findings=[]), error)
    _stabilize(envelope)
    files: Dict[str, str] = {}

    step("report.step.gpu")
    # A bundle for another OS judged against its user's GPU (or none): this machine's nvidia-smi would mix
    # this GPU in. (ENVDOCTOR_GPUS, the what-if and test seam, stands for the machine it runs on.)
    elsewhere = check is not None and check.facts.foreign_platform and check.facts.gpu_origin != "override"
    smi = None if elsewhere else evidence.nvidia_smi_query(runner)
    if smi is not None:
        files["evidence/nvidia-smi-q.txt"] = smi
    if check is not None:
        files["evidence/packages.txt"] = evidence.package_list(check.facts)

    step("report.step.config")
    runtime_root = check.facts.runtime.root if check and check.facts.runtime else None
    root = evidence.gptsovits_root(options.collect.root, options.collect.python, runtime_root)
    gptsovits, config_files, shapes = evidence.gptsovits_state(root)
    files.update(config_files)

    upgrade, upgrade_files = upgrade_state(root)  # why the last upgrade failed, where one was tried
    files.update(upgrade_files)

    step("report.step.logs")

    @functools.cache  # loaded once, and only when a log has an error to explain
    def known_errors() -> tuple:
        return load_matrix(options.matrix_dir).known_errors

    named = list(options.logs)[:MAX_NAMED_LOGS]
    # Logs are found only in a GPT-SoVITS folder: run from a home or Downloads folder, nothing there is
    # collected (the user can still name a log with --log).
    found = logs.find_logs(root) if gptsovits.get("bundle") else []
    log_sections = _read_logs(named + found, lang, known_errors, files)

    doctor: Dict[str, Any] = {"requested": options.doctor}
    if options.doctor and check is None:
        # The smoke tests run in the runtime the check could not find: say why, as the check did.
        doctor.update(available=True, error=envelope["error"]["message"])
    elif options.doctor:
        step("report.step.doctor")
        doctor.update(seams.doctor_section(check, options, lang, progress=smoke_progress))
        for item in doctor.get("smoke") or []:
            if isinstance(item, dict) and item.get("output"):
                files[f"evidence/smoke/{_safe_name(str(item.get('name', 'smoke')))}.txt"] = \
                    evidence.bound(str(item["output"]))

    envelope["report"] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": report_time(env),
        "redacted": True,
        "headline": headline(envelope),
        "system": {
            "os": f"{platform.system()} {platform.release()}".strip(),
            "os_version": platform.version(),
            "machine": platform.machine(),
            "envdoctor": __version__,
            "envdoctor_python": platform.python_version(),
        },
        "environment": evidence.environment_subset(env),
        "gptsovits": gptsovits,
        "logs": log_sections,
        "doctor": doctor,
        **({"upgrade": upgrade} if upgrade else {}),
        "evidence": [],  # filled by `index_evidence` once the files are final
    }
    return Document(envelope, files, shapes)


def _gpus_only() -> Dict[str, Any]:
    """The GPU part of an envelope, for a report whose check could not run."""
    try:
        gpu_facts = detect_gpus()
    except OverrideError as exc:
        return {"gpus": [], "facts": {"gpu": {"gpus": [], "driver": None, "attempts": [], "error": str(exc)}}}
    gpus = [{"index": g.index, "name": g.name,
             "compute_capability": format_cc(g.compute_capability) if g.compute_capability else None,
             "verdict": None, "coverage": None} for g in gpu_facts.gpus]
    return {"gpus": gpus, "facts": {"gpu": to_jsonable(gpu_facts)}}


def _read_logs(paths: List[str], lang: str, known_errors: Any, files: Dict[str, str]) -> List[Dict[str, Any]]:
    sections: List[Dict[str, Any]] = []
    seen = set()
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            tail = logs.read_tail(path)
        except OSError as exc:
            sections.append({"path": path, "error": exc.strerror or str(exc)})
            continue
        name = f"evidence/logs/{len(sections) + 1:02d}-{_safe_name(os.path.basename(path))}.txt"
        files[name] = tail.text
        error = logs.recent_error(tail.text)
        sections.append({
            "path": path,
            "bytes": tail.size,
            "truncated": tail.truncated,
            "evidence": name,
            "recent_error": error,
            "explain": seams.explain_text(error, lang, known_errors) if error else None,
        })
    return sections


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:60] or "file"


def _stabilize(envelope: Dict[str, Any]) -> None:
    """Leave out what changes between two runs on the same machine (timings, cache hits)."""
    envelope.pop("timings_ms", None)
    live = envelope.get("facts", {}).get("live")
    if isinstance(live, dict):
        live.pop("duration_s", None)
        live.pop("cached", None)


def headline(envelope: Dict[str, Any]) -> Dict[str, Any]:
    """The one most important finding: the first of the worst severity (rules run in order of cause)."""
    findings = envelope.get("findings") or []
    worst = max(findings, key=lambda f: SEVERITY_RANK.get(f.get("severity"), 0), default=None)
    if worst is None or worst.get("severity") == "ok":
        return {"verdict": envelope.get("verdict"), "finding": None}
    return {"verdict": envelope.get("verdict"), "finding": findings.index(worst), "code": worst.get("code")}


