"""The choices and the recommendation, from envelopes shaped like the commands' JSON (no processes)."""

from __future__ import annotations

from envdoctor.fix.choices import diagnosis_from, make_plan, upgrade_choice, workaround_choice
from envdoctor.i18n import message


def text(key: str, **params) -> str:
    return message("en", key, **params)


def check_envelope(*blocking: str, warnings=(), source: str = "nvml") -> dict:
    findings = [{"code": c, "severity": "blocking", "title": f"title of {c}", "fix": ""} for c in blocking]
    findings += [{"code": c, "severity": "warning", "title": f"title of {c}", "fix": ""} for c in warnings]
    return {"verdict": "will-fail" if blocking else "ready", "summary": "s", "findings": findings,
            "facts": {"gpu": {"gpus": [{"name": "NVIDIA GeForce RTX 5060 Ti", "source": source}]},
                      "torch": {"version": "2.4.1+cu118"}}}


CONFIGURE_PREVIEW = {"exit_code": 0, "settings": {"fp16": False, "v2pro_sv": "cpu"},
                     "changes": [{"file": "go-webui.bat"}, {"file": "GPT_SoVITS/sv.py"}]}
UPGRADE_PLAN = {"exit_code": 0, "status": "upgrade", "summary": "An upgrade...", "disk_needed": 6 * 1024 ** 3,
                "resolution": {"download_bytes": 3 * 1024 ** 3},
                "plan": {"status": "upgrade", "current": {"torch": "2.4.1+cu118"},
                         "target": {"torch": "2.7.1+cu128", "variant": "cu128", "min_driver": "570.65"}}}


def test_workarounds_recommended_when_they_cover_every_blocking_finding():
    diagnosis = diagnosis_from(check_envelope("fp16-attention-abort-risk", "nvrtc-too-old"), 2)
    plan = make_plan(diagnosis, CONFIGURE_PREVIEW, UPGRADE_PLAN, 0, offline=False, text=text)
    assert plan.recommended == "A"
    a = plan.choice("A")
    assert a.available and a.resolves
    assert any("FATAL" in line for line in a.gives) and any("CPU" in line for line in a.gives)
    b = plan.choice("B")
    assert b.available and "2.7.1+cu128" in b.gives[0]
    assert any("3072 MB" in c for c in b.costs) and any("6144 MB" in c for c in b.costs)
    assert any("570.65" in c for c in b.costs)
    c = plan.choice("C")
    assert c.costs == ("title of fp16-attention-abort-risk", "title of nvrtc-too-old")


def test_upgrade_recommended_when_the_build_has_no_kernels_at_all():
    diagnosis = diagnosis_from(check_envelope("no-kernels-for-gpu", "nvrtc-too-old"), 2)
    plan = make_plan(diagnosis, CONFIGURE_PREVIEW, UPGRADE_PLAN, 0, offline=True, text=text)
    assert plan.recommended == "B"
    assert not plan.choice("A").resolves
    assert "no-kernels-for-gpu" in plan.choice("A").reason
    assert plan.choice("B").costs[0] == text("fix.b.costs_offline")


def test_leave_it_when_neither_can_run():
    diagnosis = diagnosis_from(check_envelope("no-kernels-for-gpu"), 2)
    refused = {"exit_code": 2, "status": "driver-too-old", "summary": "Install NVIDIA driver 570.65 or newer first",
               "plan": {"status": "driver-too-old", "target": None}}
    plan = make_plan(diagnosis, {"exit_code": 3, "error": {"message": "no GPT-SoVITS here"}}, refused, 2,
                     offline=False, text=text)
    assert plan.recommended == "C"
    assert not plan.choice("A").available and plan.choice("A").reason == "no GPT-SoVITS here"
    assert not plan.choice("B").available and "570.65" in plan.choice("B").reason


def test_an_upgrade_error_envelope_is_the_reason():
    choice = upgrade_choice({"exit_code": 3, "error": {"message": "This windows runtime cannot be run here"}}, 3,
                            offline=False, text=text)
    assert not choice.available and "windows runtime" in choice.reason


def test_simulated_gpus_are_known_as_such():
    assert diagnosis_from(check_envelope("x", source="override"), 2).simulated_gpu
    assert not diagnosis_from(check_envelope("x", source="nvml"), 2).simulated_gpu


def test_configure_with_nothing_to_write_and_nothing_blocking():
    diagnosis = diagnosis_from(check_envelope(warnings=("ptx-jit-only",)), 1)
    choice = workaround_choice(diagnosis, {"exit_code": 0, "settings": {}, "changes": []}, text)
    assert choice.available and choice.resolves and choice.reason == text("fix.a.nothing_to_write")
