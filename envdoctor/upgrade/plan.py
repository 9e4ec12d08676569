"""The upgrade plan: a pure function of the machine's facts and the matrix (no I/O, no network).

Choice rule: among the torch builds the matrix knows, keep those that run on the runtime's Python,
come with a torchaudio (and torchvision when the runtime has it), and carry native SASS for every
GPU; among those that the installed driver can run, take GPT-SoVITS' known-good ones first, then the
smallest change from the current torch (the nearest newer release, then the oldest CUDA variant, which
asks least of the driver). If only the driver stands in the way, say which driver to install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext, arch_key, variant_archs
from envdoctor.diagnose.rules import nvrtc
from envdoctor.matrix.views import Matrix, TorchRelease, TorchSeries, TorchVariant
from envdoctor.model import CheckReport, ComputeCapability
from envdoctor.versions import at_least

UPGRADE = "upgrade"
UP_TO_DATE = "up-to-date"
DRIVER_TOO_OLD = "driver-too-old"
NO_CANDIDATE = "no-candidate"
NO_GPU = "no-gpu"

REPLACED = ("torch", "torchaudio", "torchvision")


@dataclass(frozen=True)
class PlanGpu:
    index: int
    name: str
    cc: ComputeCapability


@dataclass(frozen=True)
class PlanFacts:
    platform: str  # linux | windows
    python_version: Optional[str]
    gpus: Tuple[PlanGpu, ...]
    driver: Optional[str]
    installed: Tuple[Tuple[str, str], ...]  # (normalised name, version) of every distribution
    current_native: bool = False  # the check found native kernels for every GPU already
    machine: str = "x86_64"  # the runtime's CPU: Linux aarch64 wheels have their own arch lists

    def version_of(self, name: str) -> Optional[str]:
        return next((v for n, v in self.installed if n == name), None)


@dataclass(frozen=True)
class PlanOptions:
    torch: Optional[str] = None
    variant: Optional[str] = None
    index_url: Optional[str] = None
    wheelhouse: Optional[str] = None
    force: bool = False


def parse_torch_option(text: Optional[str], variant: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """`--torch` as (public version, variant): '2.8.0+cu126' asks for the cu126 build (honoured, or a
    usage error when --variant says otherwise); text that is no version is a usage error, said before
    any work (it was 'Unexpected error: InvalidVersion')."""
    from envdoctor.errors import UsageError
    from envdoctor.upgrade.metaresolve import build_of_label

    if not text:
        return text, variant
    try:
        version = Version(text.strip())
    except InvalidVersion:
        raise UsageError("upgrade.error.bad_torch_version", value=text) from None
    label = build_of_label(version.local)
    if version.local and label is None:
        raise UsageError("upgrade.error.bad_torch_version", value=text)
    if label and variant and label != variant:
        raise UsageError("upgrade.error.torch_variant_conflict", torch=text, variant=variant)
    return version.public, label or variant


@dataclass(frozen=True)
class Target:
    torch: str  # full version with local tag, e.g. "2.7.0+cu128"
    torchaudio: Optional[str]
    torchvision: Optional[str]
    variant: str
    cuda: Optional[str]
    min_driver: Optional[str]
    known_good: bool

    # Packages the new torch needs beside it that the bundle may lack, as (name, specifier): torchcodec
    # where the target torchaudio reads audio through it, ctranslate2 at the cuDNN of the new torch.
    companions: Tuple[Tuple[str, str], ...] = ()

    def requirements(self) -> Tuple[str, ...]:
        reqs = [f"torch=={self.torch}"]
        if self.torchaudio:
            reqs.append(f"torchaudio=={self.torchaudio}")
        if self.torchvision:
            reqs.append(f"torchvision=={self.torchvision}")
        reqs += [f"{name}{spec}" for name, spec in self.companions]
        return tuple(reqs)


@dataclass(frozen=True)
class Note:
    """A warning or remark for the user; text in the catalogue under upgrade.note.<key>."""

    key: str
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    status: str
    current: Dict[str, Optional[str]]
    target: Optional[Target]
    index_url: Optional[str]
    wheelhouse: Optional[str]
    constraints: Tuple[str, ...]
    kept: Tuple[str, ...]
    notes: Tuple[Note, ...]
    driver_needed: Optional[str] = None
    imports: Tuple[str, ...] = ("torch", "torchaudio")
    blockers: Tuple[Note, ...] = ()  # why this plan cannot run as asked (exit 2 before any work)
    find_links: Tuple[str, ...] = ()  # flat pages or folders pip also reads (--find-links, a flat mirror)
    mirror: Optional[str] = None  # the mirrors.yaml entry the source came from (--mirror NAME)

    @property
    def runnable(self) -> bool:
        return self.target is not None and not self.blockers


@dataclass(frozen=True)
class _Candidate:
    series: TorchSeries
    release: TorchRelease
    variant: TorchVariant
    min_driver: Optional[str]
    driver_ok: bool
    known_good: bool
    avoided: bool


def facts_from_report(report: CheckReport, matrix: Matrix) -> PlanFacts:
    """The plan's view of a check report (GPU capabilities from NVML or the matrix's name table)."""
    facts = report.facts
    # Only the GPU(s) GPT-SoVITS will use (its config.py's choice, CUDA_VISIBLE_DEVICES): a plan for every
    # GPU would ask for a build covering a GTX 1080 beside the RTX 3060 it infers on, which may not exist.
    judged = DiagnosisContext(facts, matrix).judged_gpus()
    gpus = []
    for gpu in judged:
        cc = gpu.compute_capability
        if cc is None:
            model = matrix.gpu_capability(gpu.name)
            cc = model.compute_capability if model else None
        if cc is not None:
            gpus.append(PlanGpu(gpu.index, gpu.name, cc))
    used = {g.index for g in judged}
    verdicts = [v for v in report.gpu_verdicts if v.gpu_index in used]
    native = bool(verdicts) and all(v.coverage == "native" for v in verdicts)
    runtime = facts.runtime
    return PlanFacts(
        platform=runtime.platform if runtime else facts.host_platform,
        python_version=runtime.python_version if runtime else None,
        gpus=tuple(gpus),
        driver=facts.gpu.driver.version if facts.gpu.driver else None,
        installed=tuple((d.name, d.version) for d in facts.distributions),
        current_native=native and facts.torch is not None,
        machine=(facts.torch.machine if facts.torch else None) or "x86_64",
    )


def _ver(text: Optional[str]) -> Optional[Version]:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _python_fits(series: TorchSeries, python: Optional[str]) -> bool:
    version = _ver(python)
    if version is None:
        return True
    mm = Version(f"{version.major}.{version.minor}")
    return Version(series.python_min) <= mm <= Version(series.python_max)


def native_for_all(variant: TorchVariant, platform: str, gpus: Tuple[PlanGpu, ...],
                   machine: str = "x86_64") -> Optional[bool]:
    """None when the matrix has no arch list for this variant (on this platform and CPU)."""
    if variant.cuda is None:
        return not gpus
    archs = variant_archs(variant, arch_key(platform, machine))
    if archs is None:
        return None
    return all(coverage.verdict(g.cc, archs.sass, archs.ptx) == coverage.NATIVE for g in gpus)


def nvrtc_for_all(matrix: Matrix, variant: TorchVariant, gpus: Tuple[PlanGpu, ...]) -> bool:
    """torch's NVRTC (the build's CUDA) compiles for every GPU, as check's nvrtc rule asks; an unknown
    toolkit is no reason to refuse (check cannot block on it either)."""
    toolkit = matrix.toolkit(variant.cuda) if variant.cuda else None
    return toolkit is None or all(nvrtc.accepts(toolkit, g.cc) for g in gpus)


def _min_driver(matrix: Matrix, variant: TorchVariant, platform: str) -> Optional[str]:
    if variant.cuda is None:
        return None
    toolkit = matrix.toolkit(variant.cuda)
    if toolkit is None:
        return None
    return toolkit.min_driver.get(platform) or toolkit.min_driver.get("linux")


def _gptsovits(matrix: Matrix) -> dict:
    return matrix.gptsovits or {}


def _known_good(matrix: Matrix, torch: str, variant: str) -> bool:
    for item in _gptsovits(matrix).get("known_good") or []:
        if str(item.get("variant")) == variant and _same_release(str(item.get("torch")), torch):
            return True
    return False


def _avoided(matrix: Matrix, series: str) -> Optional[dict]:
    for item in _gptsovits(matrix).get("avoid") or []:
        if str(item.get("series")) == series:
            return item
    return None


def _same_release(a: str, b: str) -> bool:
    va, vb = _ver(a), _ver(b)
    if va is None or vb is None:
        return a == b
    # "2.7" in known_good means any 2.7.x
    n = min(len(va.release), len(vb.release))
    return va.release[:n] == vb.release[:n]


def _with_local(version: Optional[str], variant: str) -> Optional[str]:
    if not version:
        return None
    return version if "+" in version else f"{version}+{variant}"


def _python_in(spec: Optional[str], python: Optional[str]) -> bool:
    """A companion's Python range ('>=3.10,<=3.14') against the runtime's Python, by major.minor."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    version = _ver(python)
    if not spec or version is None:
        return True
    try:
        return SpecifierSet(spec).contains(f"{version.major}.{version.minor}")
    except InvalidSpecifier:
        return True


def _codec_spec(release: str) -> str:
    """'0.9' -> '==0.9.*' (any patch release of that torchcodec), '0.0.3' -> '==0.0.3'."""
    return f"=={release}" if release.count(".") >= 2 else f"=={release}.*"


def audio_companion(matrix: Matrix, torch: str, torchaudio: Optional[str], python: Optional[str]):
    """What the target torchaudio needs to read audio (companions.yaml audio_io): None when it reads it
    itself; else ("torchcodec", spec, entry) with the newest torchcodec made for this torch that fits the
    runtime's Python, or ("torchcodec", None, entry) when none does (the plan must refuse, not install a
    torchaudio that cannot load GPT-SoVITS' reference audio)."""
    if not torchaudio:
        return None
    audio = matrix.audio_io(torchaudio)
    if not audio or audio.get("backend") != "torchcodec":
        return None
    rows = {str(r.get("torchcodec")): r for r in matrix.companions.get("torchcodec", [])}
    for release in matrix.torchcodec_for(Version(torch).public):
        if _python_in(rows.get(release, {}).get("python"), python):
            return "torchcodec", _codec_spec(release), rows.get(release, {})
    return "torchcodec", None, {}


def _in_range(row: dict, prefix: str, version: str) -> bool:
    """major.minor of `version` within the row's <prefix>_min .. <prefix>_max (inclusive, max optional)."""
    value = _ver(version.split("+")[0])
    low, high = _ver(str(row.get(prefix + "_min") or "")), _ver(str(row.get(prefix + "_max") or ""))
    if value is None or low is None:
        return False
    mm = value.release[:2]
    return low.release[:2] <= mm and (high is None or mm <= high.release[:2])


def torch_cudnn(matrix: Matrix, torch: str) -> Optional[int]:
    """The cuDNN major a CUDA build of this torch brings (companions.yaml torch_cudnn); None: unknown."""
    row = next((r for r in matrix.companions.get("torch_cudnn", []) if _in_range(r, "torch", torch)), None)
    return int(row["cudnn_major"]) if row else None


def ctranslate2_companion(matrix: Matrix, torch: str, cuda: Optional[str], installed: Optional[str]):
    """faster-whisper's ctranslate2 loads cuDNN itself, and the runtime's cuDNN is the new torch's: None when
    the installed ctranslate2 already fits (or nothing is known); else (spec, cudnn, cuda major), spec None
    when no ctranslate2 the matrix knows is built for that cuDNN and CUDA major."""
    if not installed or not cuda:
        return None
    cudnn = torch_cudnn(matrix, torch)
    if cudnn is None:
        return None
    cuda_major = int(cuda.split(".")[0])
    rows = matrix.companions.get("ctranslate2", [])
    current = next((r for r in rows if _in_range(r, "ctranslate2", installed)), None)
    if current is not None and int(current["cudnn_major"]) == cudnn and int(current["cuda_major"]) == cuda_major:
        return None
    fit = [r for r in rows if int(r["cudnn_major"]) == cudnn and int(r["cuda_major"]) == cuda_major]
    if not fit:
        return None, cudnn, cuda_major
    best = max(fit, key=lambda r: Version(str(r["ctranslate2_min"])))
    spec = f">={best['ctranslate2_min']}"
    if best.get("ctranslate2_max"):
        top = Version(str(best["ctranslate2_max"])).release
        spec += f",<{top[0]}.{top[1] + 1 if len(top) > 1 else 1}"
    return spec, cudnn, cuda_major


def _ffmpeg_majors(row: dict) -> str:
    majors = sorted(int(m) for m in row.get("ffmpeg_majors") or [4, 5, 6, 7, 8])
    return f"{majors[0]}-{majors[-1]}" if majors else "4-8"


def _candidates(facts: PlanFacts, matrix: Matrix, options: PlanOptions) -> List[_Candidate]:
    has_audio = True  # GPT-SoVITS needs torchaudio even where the runtime lacks it today
    has_vision = facts.version_of("torchvision") is not None
    out = []
    for series in matrix.series:
        if not _python_fits(series, facts.python_version):
            continue
        for release in series.releases:
            if options.torch and not _same_release(options.torch, release.torch):
                continue
            if has_audio and not release.torchaudio:
                continue
            if has_vision and not release.torchvision:
                continue
            codec = audio_companion(matrix, release.torch, release.torchaudio, facts.python_version)
            if codec is not None and codec[1] is None and not options.torch:
                continue  # its torchaudio cannot read audio on this Python: never chosen unasked
            for variant in series.variants:
                if options.variant and variant.name != options.variant:
                    continue
                if not native_for_all(variant, facts.platform, facts.gpus, facts.machine):
                    continue
                if not nvrtc_for_all(matrix, variant, facts.gpus):
                    continue  # check would block it: "NVRTC of CUDA 12.8 cannot compile for sm_121"
                min_driver = _min_driver(matrix, variant, facts.platform)
                driver_ok = variant.cuda is None or (
                    facts.driver is not None and min_driver is not None and at_least(facts.driver, min_driver))
                out.append(_Candidate(series, release, variant, min_driver, driver_ok,
                                      _known_good(matrix, release.torch, variant.name),
                                      _avoided(matrix, series.series) is not None))
    return out


def _rank(candidate: _Candidate, current: Optional[Version]):
    version = Version(candidate.release.torch)
    downgrade = current is not None and version < Version(current.base_version)
    distance = tuple(-p for p in version.release) if downgrade else version.release
    cuda = _ver(candidate.variant.cuda) or Version("0")
    return (candidate.avoided, not candidate.known_good, downgrade, distance, cuda)


def make_plan(facts: PlanFacts, matrix: Matrix, options: PlanOptions = PlanOptions()) -> Plan:
    current = {name: facts.version_of(name) for name in REPLACED}
    constraints = tuple(str(p["requirement"]) for p in _gptsovits(matrix).get("pins") or [] if p.get("requirement"))
    imports = tuple(_gptsovits(matrix).get("imports") or ("torch", "torchaudio"))
    notes: List[Note] = []
    blockers: List[Note] = []
    base = dict(current=current, index_url=None, wheelhouse=options.wheelhouse, constraints=constraints,
                imports=imports)
    forced = bool(options.torch or options.variant)
    if not facts.gpus and not forced:
        return Plan(NO_GPU, target=None, kept=(), notes=(), **base)  # type: ignore[arg-type]
    if facts.current_native and not (forced or options.force):
        return Plan(UP_TO_DATE, target=None, kept=(), notes=(), **base)  # type: ignore[arg-type]
    candidates = _candidates(facts, matrix, options)
    current_torch = _ver(current["torch"])
    runnable = sorted((c for c in candidates if c.driver_ok), key=lambda c: _rank(c, current_torch))
    if not runnable and candidates and not forced:
        needed = min(candidates, key=lambda c: _rank(c, current_torch))
        return Plan(DRIVER_TOO_OLD, target=None, kept=(), notes=tuple(notes), driver_needed=needed.min_driver,
                    **base)  # type: ignore[arg-type]
    if not runnable and candidates and forced:
        # asked for explicitly: take the matrix's best match and say that the driver must change
        runnable = sorted(candidates, key=lambda c: _rank(c, current_torch))
        _driver_rule(matrix, facts, options, runnable[0].variant, runnable[0].min_driver, notes, blockers)
    if runnable:
        best = runnable[0]
        target = Target(
            torch=_with_local(best.release.torch, best.variant.name) or best.release.torch,
            torchaudio=_with_local(best.release.torchaudio, best.variant.name),
            torchvision=_with_local(best.release.torchvision, best.variant.name) if current["torchvision"] else None,
            variant=best.variant.name, cuda=best.variant.cuda, min_driver=best.min_driver,
            known_good=best.known_good)
        index_url = best.variant.index_url
        if best.avoided:
            item = _avoided(matrix, best.series.series) or {}
            notes.append(Note("avoided_series", {"series": best.series.series, "reason": item.get("reason", "")}))
        if not best.known_good and _gptsovits(matrix).get("known_good"):
            notes.append(Note("not_known_good", {"torch": target.torch}))
    elif forced:
        target, index_url = _forced_target(facts, matrix, options, notes, blockers)
    else:
        return Plan(NO_CANDIDATE, target=None, kept=(), notes=tuple(notes), **base)  # type: ignore[arg-type]
    if options.index_url:
        index_url = options.index_url
    if options.wheelhouse:
        index_url = None
    if target.torchaudio is None:
        # GPT-SoVITS loads audio with torchaudio: a runtime without one cannot start the WebUI.
        blockers.append(Note("no_torchaudio", {"torch": target.torch, "newest": _newest_with_audio(matrix) or "?"}))
    older = _older_on_purpose(facts, matrix, candidates, target, current_torch)
    if older is not None:
        notes.insert(0, older)
    target = _with_companions(target, facts, matrix, notes, blockers)
    kept = tuple(sorted(f"{n}=={v}" for n, v in facts.installed if n not in REPLACED))
    base.update(index_url=index_url)
    return Plan(UPGRADE, target=target, kept=kept, notes=tuple(notes), blockers=tuple(blockers),
                **base)  # type: ignore[arg-type]


def _with_companions(target: Target, facts: PlanFacts, matrix: Matrix, notes: List[Note],
                     blockers: List[Note]) -> Target:
    """torchaudio >= 2.9 reads audio only through TorchCodec (companions.yaml): the plan installs the
    torchcodec made for the target torch and says where FFmpeg must come from (TorchCodec loads FFmpeg's
    shared libraries, which no wheel brings), or refuses when no torchcodec fits this Python."""
    from dataclasses import replace

    companions = list(target.companions)
    codec = audio_companion(matrix, target.torch, target.torchaudio, facts.python_version)
    if codec is not None:
        name, spec, row = codec
        params = {"torchaudio": target.torchaudio, "torch": target.torch, "python": facts.python_version or "?"}
        if spec is None:
            blockers.append(Note("no_torchcodec", params))
        else:
            companions.append((name, spec))
            notes.append(Note("torchcodec_planned", {**params, "torchcodec": spec.lstrip("="),
                                                     "ffmpeg": _ffmpeg_majors(row)}))
            where = "ffmpeg_windows" if facts.platform == "windows" else "ffmpeg_linux"
            notes.append(Note(where, {"ffmpeg": _ffmpeg_majors(row)}))
    installed = facts.version_of("ctranslate2")
    asr = ctranslate2_companion(matrix, target.torch, target.cuda, installed)
    if asr is not None:
        spec, cudnn, cuda_major = asr
        params = {"installed": installed or "-", "torch": target.torch, "cudnn": cudnn, "cuda": cuda_major}
        if spec is None:
            notes.append(Note("ctranslate2_none", params))
        else:
            companions.append(("ctranslate2", spec))
            notes.append(Note("ctranslate2_planned", {**params, "spec": spec}))
    return replace(target, companions=tuple(companions)) if companions != list(target.companions) else target


def _driver_rule(matrix: Matrix, facts: PlanFacts, options: PlanOptions, variant: TorchVariant,
                 min_driver: Optional[str], notes: List[Note], blockers: List[Note]) -> None:
    """A build asked for explicitly that the driver is below the toolkit's minimum for: a warning; one
    the driver cannot start at all (below the CUDA major's floor, `Matrix.driver_can_start`): refused
    unless --force, naming the driver to install. An unknown driver is not a reason to refuse."""
    if not variant.cuda or not min_driver or (facts.driver is not None and at_least(facts.driver, min_driver)):
        return
    if facts.driver is None:
        notes.append(Note("override_driver", {"variant": variant.name, "driver": min_driver, "installed": "-"}))
        return
    can, floor = matrix.driver_can_start(variant.cuda, facts.driver, facts.platform)
    if can:
        notes.append(Note("override_driver", {"variant": variant.name, "driver": min_driver,
                                              "installed": facts.driver}))
    else:
        (notes if options.force else blockers).append(
            Note("override_driver", {"variant": variant.name, "driver": floor or min_driver,
                                     "installed": facts.driver}))


def _newest_with_audio(matrix: Matrix) -> Optional[str]:
    releases = [r.torch for s in matrix.series for r in s.releases if r.torchaudio and _ver(r.torch)]
    return max(releases, key=Version, default=None)


def _older_on_purpose(facts: PlanFacts, matrix: Matrix, candidates: List[_Candidate], target: Target,
                      current: Optional[Version]) -> Optional[Note]:
    """A plan that moves torch back says so, and why: newer builds need a newer driver, or have no
    torchaudio (what GPT-SoVITS needs), or lack native kernels for this GPU."""
    new = _ver(target.torch)
    if current is None or new is None or new.release >= Version(current.base_version).release:
        return None
    newer = [c for c in candidates if Version(c.release.torch).release >= Version(current.base_version).release]
    params = {"current": str(current), "target": target.torch}
    if newer and not any(c.driver_ok for c in newer):
        driver = min((c.min_driver for c in newer if c.min_driver), key=Version, default=None)
        return Note("older_on_purpose_driver", {**params, "driver": driver or "?", "installed": facts.driver or "-"})
    audio = [r.torch for s in matrix.series for r in s.releases
             if _ver(r.torch) and Version(r.torch).release >= Version(current.base_version).release and r.torchaudio]
    if not audio:
        return Note("older_on_purpose_no_torchaudio", params)
    return Note("older_on_purpose_not_native", params)



def _forced_target(facts: PlanFacts, matrix: Matrix, options: PlanOptions, notes: List[Note],
                   blockers: List[Note]):
    """--torch/--variant asked for something the matrix does not recommend: do it, say why not."""
    version = options.torch or (facts.version_of("torch") or "").split("+")[0]
    series = matrix.series_of(version) if version else None
    release = series.release(version) if series else None
    if release is None and series is not None and version.count(".") == 1:
        release = max(series.releases, key=lambda r: Version(r.torch), default=None)
    variant_name = options.variant or (series.default_variant if series else None) or "cu128"
    variant = series.variant(variant_name) if series else None
    torch_version = release.torch if release else version
    audio = release.torchaudio if release else torch_version
    vision = release.torchvision if release else None
    if release is None or variant is None:
        notes.append(Note("matrix_unknown", {"torch": torch_version, "variant": variant_name}))
    else:
        native = native_for_all(variant, facts.platform, facts.gpus, facts.machine)
        if native is False:
            notes.append(Note("override_not_native", {"torch": torch_version, "variant": variant_name}))
        _driver_rule(matrix, facts, options, variant, _min_driver(matrix, variant, facts.platform), notes, blockers)
    if series is not None and not _python_fits(series, facts.python_version):
        notes.append(Note("override_python", {"torch": torch_version, "python": facts.python_version}))
    target = Target(
        torch=_with_local(torch_version, variant_name) or torch_version,
        torchaudio=_with_local(audio, variant_name),
        torchvision=_with_local(vision, variant_name) if facts.version_of("torchvision") else None,
        variant=variant_name,
        cuda=variant.cuda if variant else None,
        min_driver=_min_driver(matrix, variant, facts.platform) if variant else None,
        known_good=_known_good(matrix, torch_version, variant_name),
    )
    return target, (variant.index_url if variant else None)
