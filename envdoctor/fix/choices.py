"""From the commands' envelopes to the diagnosis and the three choices, with costs for this machine.

Pure functions of plain dictionaries (the published JSON envelopes), so they are tested without
running anything. Text comes from the catalogues (envdoctor/i18n/*/fix.py) through `text`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from envdoctor.fix.decisions import (
    KEEP_WITH_WORKAROUNDS,
    LEAVE,
    UPGRADE,
    Choice,
    Diagnosis,
    Finding,
    FixPlan,
)

Text = Callable[..., str]

# What configure's `auto` works around (envdoctor.gptsovits.mitigations names the same two codes):
# FP16 off avoids the fused-attention abort, speaker verification on the CPU avoids NVRTC.
MITIGABLE = frozenset({"fp16-attention-abort-risk", "nvrtc-too-old", "g2pw-no-kernels"})
# Sources whose GPUs are not this machine's real hardware: smoke tests there prove nothing.
SIMULATED_SOURCES = frozenset({"override", "demo", "environment", "env"})
# A conservative download speed for the time estimate (a slow home link or a busy mirror), bytes/s.
ASSUMED_DOWNLOAD_BPS = 2 * 1024 * 1024


def _findings(envelope: Dict[str, Any], severity: str) -> Tuple[Finding, ...]:
    rows = envelope.get("findings") or []
    return tuple(Finding(str(r.get("code", "")), severity, str(r.get("title", "")), str(r.get("fix", "")))
                 for r in rows if isinstance(r, dict) and r.get("severity") == severity)


def diagnosis_from(check: Dict[str, Any], exit_code: int, explain: Optional[Dict[str, Any]] = None,
                   log_path: Optional[str] = None) -> Diagnosis:
    facts = check.get("facts") or {}
    gpus = ((facts.get("gpu") or {}).get("gpus")) or []
    torch = (facts.get("torch") or {}).get("version") or ""
    simulated = bool(gpus) and all(str(g.get("source", "")).lower() in SIMULATED_SOURCES for g in gpus)
    error = check.get("error") or {}
    log_errors: Tuple[str, ...] = ()
    if explain:
        log_errors = tuple(str(m.get("title") or m.get("id") or "") for m in explain.get("matches") or []
                           if isinstance(m, dict))
    return Diagnosis(
        exit_code=exit_code,
        verdict=str(check.get("verdict", "could-not-check")),
        summary=str(check.get("summary", "")),
        blocking=_findings(check, "blocking"),
        warnings=_findings(check, "warning"),
        simulated_gpu=simulated,
        gpu_names=tuple(str(g.get("name", "?")) for g in gpus),
        torch=str(torch),
        log_errors=tuple(e for e in log_errors if e),
        log_path=log_path,
        error=str(error.get("message", "")) if isinstance(error, dict) else "",
    )


def _megabytes(value: Any) -> Optional[int]:
    return int(value) // (1024 * 1024) if isinstance(value, (int, float)) and value > 0 else None


def workaround_choice(diagnosis: Diagnosis, configure: Optional[Dict[str, Any]], text: Text) -> Choice:
    """A: FP16 off and/or speaker verification on the CPU, written by configure (instant, reversible)."""
    blocking = {f.code for f in diagnosis.blocking}
    if configure is None or configure.get("exit_code", 3) == 3 or "error" in configure:
        error = (configure or {}).get("error") or {}
        reason = error.get("message") if isinstance(error, dict) else None
        return Choice(KEEP_WITH_WORKAROUNDS, False, False,
                      reason=reason or text("fix.a.unavailable_no_tree"))
    settings = configure.get("settings") or {}
    gives, costs = [], []
    if settings.get("fp16") is False:
        gives.append(text("fix.a.gives_fp16"))
        costs.append(text("fix.a.costs_fp16"))
    if settings.get("v2pro_sv") == "cpu":
        gives.append(text("fix.a.gives_sv_cpu"))
        costs.append(text("fix.a.costs_sv_cpu"))
    elif settings.get("v2pro_sv") == "off":
        gives.append(text("fix.a.gives_sv_off"))
        costs.append(text("fix.a.costs_sv_off"))
    if settings.get("g2pw") == "cpu":
        gives.append(text("fix.a.gives_g2pw_cpu"))
        costs.append(text("fix.a.costs_g2pw_cpu"))
    costs.append(text("fix.a.costs_instant"))
    left = sorted(blocking - MITIGABLE)
    changes = configure.get("changes") or []
    files = [c.get("file") for c in changes if isinstance(c, dict) and c.get("file")]
    if left:
        # What the user would still meet, in words (finding titles), never finding codes.
        titles = [f.title or f.code for f in diagnosis.blocking if f.code in left]
        return Choice(KEEP_WITH_WORKAROUNDS, bool(files), False, tuple(gives), tuple(costs),
                      reason=text("fix.a.not_enough", codes="; ".join(titles)),
                      details={"files": files, "left": left})
    return Choice(KEEP_WITH_WORKAROUNDS, bool(files) or not blocking, True, tuple(gives), tuple(costs),
                  reason="" if files else text("fix.a.nothing_to_write"),
                  details={"files": files, "settings": settings})


# What a failed connection's raw text (urllib3/pip/OSError, Windows and POSIX wording) says, in one word.
_NETWORK_PROBLEMS = (
    ("dns", ("nameresolutionerror", "getaddrinfo failed", "name or service not known", "nodename nor servname",
             "temporary failure in name resolution", "no address associated", "11001", "name resolution")),
    ("timeout", ("timed out", "timeout", "10060")),
    ("refused", ("connection refused", "connectionrefused", "errno 111", "10061", "actively refused")),
    ("tls", ("ssl", "certificate", "tls")),
    ("http", ("http error", "status 4", "status 5", " 403", " 404", " 5")),
)


def network_problem(reason: str) -> str:
    """dns | timeout | refused | tls | http | other: what went wrong, read from a raw error text."""
    lowered = reason.lower()
    for kind, needles in _NETWORK_PROBLEMS:
        if any(needle in lowered for needle in needles):
            return kind
    return "other"


def upgrade_choice(upgrade: Optional[Dict[str, Any]], exit_code: int, offline: bool, text: Text,
                   reachable_mirror: Optional[str] = None) -> Choice:
    """B: a torch/torchaudio build for this GPU, staged, verified, swapped; rollback keeps the old one."""
    if upgrade is None:
        return Choice(UPGRADE, False, False, reason=text("fix.b.no_answer"))
    error = upgrade.get("error")
    if isinstance(error, dict):
        return Choice(UPGRADE, False, False, reason=str(error.get("message") or error.get("key") or ""))
    plan = upgrade.get("plan") or {}
    target = plan.get("target") if isinstance(plan, dict) else None
    status = str(upgrade.get("status") or plan.get("status") or "")
    # exit 3 with a plan: the wheel source did not answer (the official index from mainland China, say);
    # B stays open, since a mirror or a fix pack can serve what the index could not.
    unchecked = exit_code == 3 and bool(upgrade.get("resolve_note"))
    if (exit_code != 0 and not unchecked) or not isinstance(target, dict) or status != "upgrade":
        return Choice(UPGRADE, False, False, reason=str(upgrade.get("summary") or status or text("fix.b.no_plan")),
                      details={"status": status})
    resolution = upgrade.get("resolution") or {}
    download = _megabytes(resolution.get("download_bytes")) if isinstance(resolution, dict) else None
    disk = _megabytes(upgrade.get("disk_needed"))
    current = (plan.get("current") or {}).get("torch") or "?"
    gives = [text("fix.b.gives", current=current, target=target.get("torch", "?"),
                  variant=target.get("variant", "?"))]
    costs = []
    if offline:
        costs.append(text("fix.b.costs_offline"))
    elif download:
        minutes = max(1, round(download * 1024 * 1024 / ASSUMED_DOWNLOAD_BPS / 60))
        costs.append(text("fix.b.costs_download", mb=download, minutes=minutes))
    else:
        costs.append(text("fix.b.costs_download_unknown"))
    if unchecked:
        # One sentence, never pip's raw `HTTPSConnectionPool(... NameResolutionError(...` in the table.
        problem = text(f"fix.net.{network_problem(str(upgrade.get('resolve_note')))}")
        if reachable_mirror:
            costs.append(text("fix.b.source_unreachable_mirror", problem=problem, mirror=reachable_mirror))
        else:
            costs.append(text("fix.b.source_unreachable", problem=problem))
    if disk:
        costs.append(text("fix.b.costs_disk", mb=disk))
    costs.append(text("fix.b.costs_reversible"))
    if target.get("min_driver"):
        costs.append(text("fix.b.needs_driver", driver=target["min_driver"]))
    details = {"target": target.get("torch"), "variant": target.get("variant"), "download_mb": download,
               "disk_mb": disk}
    if unchecked:
        details.update(source_problem=network_problem(str(upgrade.get("resolve_note"))),
                       suggested_mirror=reachable_mirror)
    return Choice(UPGRADE, True, True, tuple(gives), tuple(costs), details=details)


def pack_choice(diagnosis: Diagnosis, wheels: Tuple[str, ...], unpacked_bytes: int, text: Text) -> Choice:
    """B from a zip fix pack that is not unpacked yet: what its directory says (the torch wheel it holds,
    the space it needs). Its wheels are read, and the upgrade checked, only once B is chosen."""
    torch = next((name for name in wheels if name.lower().startswith("torch-")), None)
    if torch is None:
        return Choice(UPGRADE, False, False, reason=text("fix.b.pack_no_torch"))
    target = torch.split("-")[1] if torch.count("-") >= 4 else "?"
    variant = target.split("+", 1)[1] if "+" in target else "?"
    costs = (text("fix.b.costs_offline"), text("fix.b.costs_disk", mb=max(1, unpacked_bytes >> 20)),
             text("fix.b.pack_checked_later"), text("fix.b.costs_reversible"))
    return Choice(UPGRADE, True, True, (text("fix.b.gives", current=diagnosis.torch or "?", target=target,
                                             variant=variant),), costs,
                  details={"target": target, "variant": variant, "download_mb": None,
                           "disk_mb": max(1, unpacked_bytes >> 20), "pack": True})


def leave_choice(diagnosis: Diagnosis, text: Text) -> Choice:
    """C: change nothing; say what will fail (predicted, or seen in the latest log), and only when nothing
    is, that nothing is predicted to fail, with what still warns."""
    fails = tuple(f.title for f in diagnosis.blocking) + tuple(
        text("fix.log_errors_fail", title=title) for title in diagnosis.log_errors)
    if not fails:
        fails = (text("fix.c.nothing_fails"),) + tuple(f.title for f in diagnosis.warnings)
    return Choice(LEAVE, True, False, gives=(text("fix.c.gives"),), costs=fails)


def recommend(choices: Iterable[Choice]) -> str:
    """The workaround when it resolves everything (instant, undone by one command), else the upgrade
    when it can run, else leave it (and write a report for a helper)."""
    by_key = {c.key: c for c in choices}
    if by_key[KEEP_WITH_WORKAROUNDS].available and by_key[KEEP_WITH_WORKAROUNDS].resolves:
        return KEEP_WITH_WORKAROUNDS
    if by_key[UPGRADE].available:
        return UPGRADE
    return LEAVE


def source_unreachable(upgrade: Optional[Dict[str, Any]], exit_code: int) -> bool:
    """The plan is there but its wheel source did not answer (B stays open: a mirror may serve it)."""
    return bool(upgrade) and exit_code == 3 and bool((upgrade or {}).get("resolve_note")) \
        and isinstance((upgrade or {}).get("plan"), dict)


def make_plan(diagnosis: Diagnosis, configure: Optional[Dict[str, Any]], upgrade: Optional[Dict[str, Any]],
              upgrade_exit: int, offline: bool, text: Text, reachable_mirror: Optional[str] = None,
              upgrade_choice_made: Optional[Choice] = None) -> FixPlan:
    """`upgrade_choice_made`: B as decided without the planner (a fix pack not unpacked yet)."""
    choices = (workaround_choice(diagnosis, configure, text),
               upgrade_choice_made or upgrade_choice(upgrade, upgrade_exit, offline, text, reachable_mirror),
               leave_choice(diagnosis, text))
    return FixPlan(diagnosis, choices, recommend(choices))
