"""The settings GPT-SoVITS should run with on this machine, derived from evidence.

A pure function: facts + smoke results + findings -> Recommendation. Each setting carries a reason
(catalogue key `recommend.<setting>.<why>` + params) and its source:
  smoke       a smoke test on this GPU proved it
  prediction  no test could run, so check's findings (arch coverage, NVRTC, FP16 risk) decide
  facts       the machine has no usable CUDA GPU, so GPU settings do not apply
  default     nothing known against GPT-SoVITS' own default
The config writer (`envdoctor configure --fp16 auto`) imports `recommend` and uses these values.
Several GPUs: the most careful value wins (FP16 off if any GPU needs it off), with that GPU as evidence.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import ATTENTION_TESTS, FP16_TESTS, KEY_TESTS, SV_FP32_TESTS, SV_TESTS, TORCH_TESTS
from envdoctor.doctor.findings import first_line
from envdoctor.model import Facts, Finding, Gpu, Line, format_cc

# check's findings that mean the torch build itself is wrong for the GPU (the real fix: upgrade).
# "-avoided": check saw the same risk but the configuration already works around it; the risk (and so
# the recommendation to keep the workaround) stands until a test disproves it.
UPGRADE_PREDICTIONS = ("no-kernels-for-gpu", "nvrtc-too-old", "fp16-attention-abort-risk", "ptx-jit-only",
                       "fp16-attention-abort-avoided", "nvrtc-too-old-avoided", "nvrtc-arch-dropped")
FP16_PREDICTIONS = ("fp16-attention-abort-risk", "fp16-attention-abort-avoided", "no-kernels-for-gpu")
SV_PREDICTIONS = ("nvrtc-too-old", "nvrtc-too-old-avoided", "nvrtc-arch-dropped", "no-kernels-for-gpu")
_SV_ORDER = {"on": 0, "cpu": 1, "off": 2}


class _Gpu:
    """The evidence about one GPU (gpu None: no GPU was detected; torch's default device)."""

    def __init__(self, gpu: Optional[Gpu], results: Sequence[m.SmokeResult], findings: Sequence[Finding]) -> None:
        self.gpu = gpu
        self.index = gpu.index if gpu else None
        self.label: str = (Line(f"GPU {gpu.index} {gpu.name}", "line.gpu_label", index=gpu.index, gpu=gpu.name)
                           if gpu else Line("default device", "line.default_device"))
        self.results = {r.test: r for r in results if r.gpu_index == self.index}
        self.predictions = [f for f in findings if f.gpu_index == self.index or f.gpu_index is None]

    def result(self, test: str) -> Optional[m.SmokeResult]:
        return self.results.get(test)

    def broke(self, tests: Sequence[str]) -> List[m.SmokeResult]:
        return [r for t in tests for r in [self.results.get(t)] if r is not None and r.broke]

    def passed(self, test: str) -> bool:
        r = self.results.get(test)
        return r is not None and r.status == m.PASSED

    def predicted(self, codes: Sequence[str]) -> List[Finding]:
        return [f for f in self.predictions if f.code in codes]

    def cuda_unusable(self) -> Optional[m.SmokeResult]:
        """The `cuda` test result when it showed that CUDA cannot be used on this GPU."""
        r = self.results.get("cuda")
        if r is not None and r.status in (m.FAILED, m.CRASHED):
            return r
        if r is not None and r.status == m.SKIPPED and r.reason in ("no-cuda", "no-cuda-build", "no-device"):
            return r
        return None


def _evidence(results: Sequence[m.SmokeResult]) -> Tuple[str, ...]:
    lines = []
    for r in results:
        first = first_line(r.error)[:200]
        how = f" ({r.exit})" if r.exit else ""
        # A skip's reason is envdoctor's own words (smoke.skip.*); a failure's error is quoted text.
        error = Line(first, f"smoke.skip.{r.reason}") if r.reason and first else first
        lines.append(Line(f"{r.test}: {r.status}{how}" + (f": {first}" if first else ""),
                          "line.test_result_error" if first else "line.test_result",
                          test=r.test, status=r.status, exit=r.exit or "", error=error))
    return tuple(lines)


def _finding_evidence(findings: Sequence[Finding]) -> Tuple[str, ...]:
    # The finding's own parameters ride along: a reader's language says the finding by its title.
    return tuple(Line(f"{f.code} ({f.params['arch']})" if f.params.get("arch") else f.code,
                      "line.finding_arch" if f.params.get("arch") else "line.finding",
                      **{k: v for k, v in f.params.items() if k != "finding"}, finding=f.code) for f in findings)


def _no_cuda(facts: Facts) -> Optional[Tuple[str, Dict[str, str]]]:
    torch = facts.torch
    if torch is None:
        return "no_torch", {}
    if not torch.is_cuda:
        return "cpu_torch", {"torch": torch.version}
    if not facts.gpu.gpus:
        return "no_gpu", {}
    return None


def _fp16_for(ev: _Gpu) -> m.Setting:
    unusable = ev.cuda_unusable()
    if unusable is not None:
        return m.Setting(False, "recommend.fp16.cuda_unusable", {"gpu": ev.label}, "smoke", _evidence([unusable]))
    broke = ev.broke(FP16_TESTS)
    if broke:
        return m.Setting(False, "recommend.fp16.smoke_broke",
                         {"gpu": ev.label, "tests": ", ".join(r.test for r in broke)}, "smoke", _evidence(broke))
    if any(ev.passed(t) for t in ATTENTION_TESTS):
        ran = [ev.results[t] for t in FP16_TESTS if t in ev.results and ev.results[t].ran]
        return m.Setting(True, "recommend.fp16.smoke_passed",
                         {"gpu": ev.label, "tests": ", ".join(r.test for r in ran)}, "smoke", _evidence(ran))
    untested = _evidence([r for t in FP16_TESTS for r in [ev.result(t)] if r is not None])
    risky = ev.predicted(FP16_PREDICTIONS)
    if risky:
        return m.Setting(False, "recommend.fp16.predicted_risk", {"gpu": ev.label, "finding": risky[0].code},
                         "prediction", _finding_evidence(risky) + untested)
    cc = ev.gpu.compute_capability if ev.gpu else None
    if cc is not None and (cc == (6, 1) or cc < (6, 0) or "GTX 16" in (ev.gpu.name if ev.gpu else "")):
        # GPT-SoVITS itself runs these in fp32 (config.py: sm 6.1 and GTX 16xx have slow or broken fp16).
        return m.Setting(False, "recommend.fp16.old_gpu", {"gpu": ev.label, "cc": format_cc(cc)}, "default",
                         untested)
    return m.Setting(True, "recommend.fp16.default", {"gpu": ev.label}, "default", untested)


def _sv_for(ev: _Gpu, fp16: bool) -> m.Setting:
    unusable = ev.cuda_unusable()
    if unusable is not None:
        # No CUDA: GPT-SoVITS runs everything on the CPU, where the fbank path works.
        return m.Setting("on", "recommend.v2pro_sv.cuda_unusable", {"gpu": ev.label}, "smoke", _evidence([unusable]))
    tests = SV_TESTS if fp16 else SV_FP32_TESTS
    broke = ev.broke(tests)
    if broke:
        cpu_ok = all(r.details.get("cpu_ok", True) for r in broke)
        value = "cpu" if cpu_ok else "off"
        return m.Setting(value, f"recommend.v2pro_sv.smoke_broke_{value}",
                         {"gpu": ev.label, "tests": ", ".join(r.test for r in broke)}, "smoke", _evidence(broke))
    if all(ev.passed(t) for t in tests):
        return m.Setting("on", "recommend.v2pro_sv.smoke_passed", {"gpu": ev.label, "tests": ", ".join(tests)},
                         "smoke", _evidence([ev.results[t] for t in tests]))
    untested = _evidence([r for t in tests for r in [ev.result(t)] if r is not None])
    risky = ev.predicted(SV_PREDICTIONS)
    if risky:
        return m.Setting("cpu", "recommend.v2pro_sv.predicted_risk", {"gpu": ev.label, "finding": risky[0].code},
                         "prediction", _finding_evidence(risky) + untested)
    return m.Setting("on", "recommend.v2pro_sv.default", {"gpu": ev.label}, "default", untested)


def _arch_list(facts: Facts, results: Sequence[m.SmokeResult]) -> m.Setting:
    found: Dict[str, str] = {}
    for gpu in facts.gpu.gpus:
        cc = gpu.compute_capability
        if cc is not None:
            found.setdefault(format_cc(cc), Line(f"GPU {gpu.index} {gpu.name}: {format_cc(cc)} ({gpu.source})",
                                                 "line.gpu_capability", index=gpu.index, gpu=gpu.name,
                                                 cc=format_cc(cc), source=gpu.source))
    if not found:
        # No driver answer: what torch reported in the cuda test is the next best witness.
        for r in results:
            cc_text = (r.details.get("device") or {}).get("cc") if r.test == "cuda" else None
            if cc_text:
                found.setdefault(cc_text, Line(f"torch.cuda.get_device_capability: {cc_text} (smoke test cuda)",
                                               "line.cc_from_smoke", cc=cc_text))
    if not found:
        return m.Setting(None, "recommend.arch_list.unknown", {}, "facts", ())
    value = ";".join(sorted(found, key=lambda t: tuple(int(p) for p in t.split("."))))
    source = "facts" if facts.gpu.gpus else "smoke"
    return m.Setting(value, "recommend.arch_list.value", {"value": value}, source, tuple(found.values()))


def _upgrade(facts: Facts, evs: Sequence[_Gpu]) -> m.Setting:
    torch = facts.torch
    if torch is None:
        return m.Setting(True, "recommend.upgrade.no_torch", {}, "facts", ())
    if not torch.is_cuda:
        if facts.gpu.gpus and not torch.hip:
            return m.Setting(True, "recommend.upgrade.cpu_torch", {"torch": torch.version}, "facts",
                             (Line(f"torch {torch.version}: torch.version.cuda = None", "line.cpu_torch",
                                   torch=torch.version),))
        return m.Setting(False, "recommend.upgrade.no_gpu", {}, "facts", ())
    if not facts.gpu.gpus and not evs:
        return m.Setting(False, "recommend.upgrade.no_gpu", {}, "facts", ())
    broke = [r for ev in evs for r in ev.broke(TORCH_TESTS)]
    if broke:
        return m.Setting(True, "recommend.upgrade.smoke_broke",
                         {"torch": torch.version, "tests": ", ".join(sorted({r.test for r in broke}))},
                         "smoke", _evidence(broke))
    if all(all(ev.passed(t) for t in KEY_TESTS) for ev in evs):
        return m.Setting(False, "recommend.upgrade.smoke_passed", {"torch": torch.version}, "smoke",
                         tuple(Line(f"{ev.label}: {', '.join(KEY_TESTS)} passed", "line.tests_passed",
                                    gpu=ev.label, tests=", ".join(KEY_TESTS)) for ev in evs))
    risky = [f for ev in evs for f in ev.predicted(UPGRADE_PREDICTIONS)]
    if risky:
        return m.Setting(True, "recommend.upgrade.predicted", {"torch": torch.version, "finding": risky[0].code},
                         "prediction", _finding_evidence(risky))
    return m.Setting(False, "recommend.upgrade.default", {"torch": torch.version}, "default", ())


def recommend(facts: Facts, results: Sequence[m.SmokeResult], findings: Sequence[Finding]) -> m.Recommendation:
    no_cuda = _no_cuda(facts)
    if no_cuda is not None and not any(r.test == "cuda" and r.status == m.PASSED for r in results):
        why, params = no_cuda
        fp16 = m.Setting(False, f"recommend.fp16.{why}", params, "facts", ())
        sv = m.Setting("on", f"recommend.v2pro_sv.{why}", params, "facts", ())
        evs: List[_Gpu] = []
    else:
        gpus: List[Optional[Gpu]] = list(facts.gpu.gpus) or [None]
        evs = [_Gpu(g, results, findings) for g in gpus]
        fp16_all = [_fp16_for(ev) for ev in evs]
        fp16 = next((s for s in fp16_all if s.value is False), fp16_all[0])
        sv_all = [_sv_for(ev, bool(fp16.value)) for ev in evs]
        sv = max(sv_all, key=lambda s: _SV_ORDER[s.value])
    return m.Recommendation(fp16=fp16, v2pro_sv=sv, arch_list=_arch_list(facts, results),
                            upgrade_needed=_upgrade(facts, evs))
