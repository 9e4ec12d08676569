"""Which GPU GPT-SoVITS infers on, said plainly: the GPUs it leaves alone, and the CPU when it uses no GPU.

The other rules judge only that GPU (DiagnosisContext.judged_gpus, diagnose/device_choice.py): a
GTX 1080 beside the RTX 3060 that config.py picks cannot stop GPT-SoVITS. Where several GPUs are
usable, the WebUI's GPU-number box offers them all; one without kernels is worth a warning (choose
the other), never a blocker.
"""

from __future__ import annotations

from typing import List

from envdoctor.diagnose import coverage, device_choice
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity, arch_name, coverage_line

CODES = ("gpu-not-used", "runs-on-cpu", "webui-gpu0-fp32", "gpu-other-lacks-kernels", "webui-sees-other-gpu")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    gpus = ctx.facts.gpu.gpus
    if not gpus:
        return []  # no_gpu's business
    choice = ctx.device_choice()
    evidence = choice.evidence
    used = ", ".join(g.name for g in choice.judged) or "CPU"
    findings: List[Finding] = []
    for use in choice.uses:
        gpu = use.gpu
        if gpu in choice.judged:
            continue
        params = {"gpu": gpu.name, "used": used, "reason": use.reason, "why": _why(use.reason)}
        if use.reason == device_choice.OTHER_CHOSEN:
            cc = ctx.capability(gpu)
            torch = ctx.facts.torch
            view = ctx.coverage_for(cc) if cc and torch is not None and torch.is_cuda else None
            if view is not None and view.verdict == coverage.NONE:
                findings.append(Finding("gpu-other-lacks-kernels", Severity.WARNING,
                                        dict(params, arch=arch_name(cc), index=gpu.index,
                                             chosen=choice.config_device.index if choice.config_device else 0),
                                        evidence + (coverage_line(view.source, view.verdict, view.detail),), gpu.index))
                continue
        findings.append(Finding("gpu-not-used", Severity.OK, params, evidence, gpu.index))
    chosen = choice.config_device
    if chosen is not None and "CUDA_VISIBLE_DEVICES" in ctx.facts.device_env:
        for gpu in choice.judged:
            if gpu != chosen:  # the WebUI's number for the chosen GPU names another one (device_choice)
                findings.append(Finding("webui-sees-other-gpu", Severity.OK,
                                        {"gpu": gpu.name, "chosen": chosen.name,
                                         "visible": ctx.facts.device_env["CUDA_VISIBLE_DEVICES"]},
                                        evidence, gpu.index))
    if choice.on_cpu:
        reason = "hidden" if all(u.reason == device_choice.HIDDEN for u in choice.uses) else "config"
        findings.append(Finding("runs-on-cpu", Severity.WARNING, {"reason": reason, "why": _why(reason)}, evidence))
    elif choice.webui_gpu0:
        reasons = sorted({u.reason for u in choice.uses if u.reason != device_choice.HIDDEN})
        why = {"messages": [f"device.reason.{r}" for r in reasons], "inline": True}
        findings.append(Finding("webui-gpu0-fp32", Severity.OK, {"gpu": used, "why": why}, evidence,
                                choice.judged[0].index))
    return findings


def _why(reason: str) -> dict:
    """The reason as its catalogue message, rendered in the reader's language (envdoctor.i18n)."""
    return {"messages": [f"device.reason.{reason}"]}
