"""Typed, read-only views of the matrix data with the lookups the rules need."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from envdoctor.matrix.verification import citation
from envdoctor.model import ComputeCapability, arch_name, parse_cc
from envdoctor.versions import as_tuple, at_least


@dataclass(frozen=True)
class Toolkit:
    version: str
    min_driver: Dict[str, Optional[str]]  # platform -> driver version (None: unknown)
    sass_archs: Tuple[str, ...]
    source: str
    verified: bool = False  # min_driver rests on a primary source or a kept measurement
    archs_verified: bool = False  # sass_archs (NVRTC's -arch targets) likewise
    archs_source: str = ""
    # torch's jiterator asks this NVRTC for at most this capability (PTX, JIT by the driver above it)
    jiterator_cap: Optional[ComputeCapability] = None
    jiterator_cap_source: str = ""


@dataclass(frozen=True)
class MinorCompat:
    """The driver floor of a CUDA major: below it no runtime of that major starts."""

    major: int
    min_driver: Dict[str, Optional[str]]
    source: str
    verified: bool = False


@dataclass(frozen=True)
class DriverBranch:
    """The newest driver branch that still supports GPUs of these compute capabilities."""

    last_branch: str
    compute_capabilities: Tuple[ComputeCapability, ...]
    last_torch_variant: Optional[str]
    source: str
    verified: bool = False


@dataclass(frozen=True)
class FactStatus:
    """One matrix row as `envdoctor matrix` counts it."""

    file: str
    ref: str  # e.g. "toolkits[12.8].sass_archs"
    verified: bool
    kind: str  # primary | measurement | secondary
    blocking: bool  # a verdict of check/doctor can block (exit 2) on this fact
    url: Optional[str] = None


@dataclass(frozen=True)
class ArchSet:
    sass: Tuple[str, ...]
    ptx: Tuple[str, ...]


@dataclass(frozen=True)
class TorchVariant:
    name: str
    cuda: Optional[str]
    index_url: Optional[str]
    archs: Dict[str, ArchSet]  # platform -> arch set
    source: str
    verified: bool = False


@dataclass(frozen=True)
class TorchRelease:
    torch: str
    torchaudio: Optional[str]
    torchvision: Optional[str]


@dataclass(frozen=True)
class TorchSeries:
    series: str
    python_min: str
    python_max: str
    releases: Tuple[TorchRelease, ...]
    default_variant: Optional[str]
    variants: Tuple[TorchVariant, ...]
    source: str

    def variant(self, name: str) -> Optional[TorchVariant]:
        return next((v for v in self.variants if v.name == name), None)

    def release(self, torch_version: str) -> Optional[TorchRelease]:
        return next((r for r in self.releases if r.torch == torch_version), None)


@dataclass(frozen=True)
class GpuModel:
    match: str
    compute_capability: ComputeCapability
    family: Optional[str]
    source: str
    verified: bool = False


@dataclass(frozen=True)
class KnownError:
    code: str
    pattern: str
    title: Dict[str, str]
    cause: Dict[str, str]
    fix: Dict[str, str]
    source: str
    # check's finding codes that explain this error on a machine (explain links a log to the machine).
    related_findings: Tuple[str, ...] = ()


ROLE_CORE = "core"  # torch's main CUDA library: decides the verdict
ROLE_OP_SPECIFIC = "op-specific"  # a torch library loaded for some operations only
ROLE_VENDOR = "vendor"  # an NVIDIA library (cuFFT, cuBLAS, ...)
ROLE_EXTENSION = "extension"  # another package's CUDA code (onnxruntime-gpu, torchaudio, ...)


PEP503 = "pep503"  # a "simple" index: pip --index-url
FIND_LINKS = "find-links"  # one flat page or directory listing of wheel files: pip --find-links


@dataclass(frozen=True)
class Mirror:
    """A place torch wheels come from (mirrors.yaml): how pip reads it, and its url per wheel variant."""

    name: str
    title: Dict[str, str]  # lang -> display name
    region: str  # "global" | "cn"
    layout: str  # PEP503 | FIND_LINKS
    url: str  # may hold {variant}
    source: str
    verified: bool = False
    notes: str = ""

    def url_for(self, variant: str) -> str:
        return self.url.replace("{variant}", variant)

    @property
    def per_variant(self) -> bool:
        return "{variant}" in self.url


@dataclass(frozen=True)
class GptSovitsUse:
    """Whether GPT-SoVITS runs a library's operations on the GPU, and whether missing kernels stop it."""

    uses: bool
    blocking: bool
    why: Dict[str, str]  # language -> text
    source: str


@dataclass(frozen=True)
class BinaryRole:
    """A row of binaries.yaml: which CUDA binaries it covers, their role and what they serve."""

    name: str
    match: str  # regex over the path with forward slashes, case-insensitive
    role: str
    serves: Dict[str, str]  # language -> text
    source: str
    kernels: Optional[str] = None  # "registered" | "embedded" | "delegated" (runs another library's) | None
    gptsovits: Optional[GptSovitsUse] = None

    def matches(self, path: str) -> bool:
        return re.search(self.match, path.replace("\\", "/"), re.IGNORECASE) is not None


# A binary no row covers: judged like an extension (a warning that names it, never blocking).
UNKNOWN_BINARY = BinaryRole("unknown", "", "unknown", {"en": "", "zh_CN": ""}, "envdoctor: no row in binaries.yaml")


@dataclass(frozen=True)
class Matrix:
    where: str
    toolkits: Tuple[Toolkit, ...]
    minor_compat: Tuple[MinorCompat, ...]
    series: Tuple[TorchSeries, ...]
    gpus: Tuple[GpuModel, ...]
    known_errors: Tuple[KnownError, ...]
    gptsovits: dict
    binaries: Tuple[BinaryRole, ...] = ()
    driver_branches: Tuple[DriverBranch, ...] = ()
    companions: Dict[str, Any] = field(default_factory=dict)
    about: Dict[str, Any] = field(default_factory=dict)
    mirrors: Tuple[Mirror, ...] = ()
    fact_statuses: Tuple[FactStatus, ...] = ()

    @classmethod
    def from_data(cls, data: Dict[str, dict], where: str) -> Matrix:
        cuda = data.get("cuda.yaml", {})
        torch = data.get("torch.yaml", {})
        toolkits = tuple(
            Toolkit(t["version"], dict(t["min_driver"]), tuple(t["sass_archs"]), _text(t["source"]),
                    t.get("verified") is True, t.get("archs_verified") is True, _text(t.get("archs_source", "")),
                    parse_cc(t["jiterator_cap"]["cc"]) if t.get("jiterator_cap") else None,
                    _text(t["jiterator_cap"]["source"]) if t.get("jiterator_cap") else "")
            for t in cuda.get("toolkits", [])
        )
        compat = tuple(
            MinorCompat(c["major"], dict(c["min_driver"]), _text(c["source"]), c.get("verified") is True)
            for c in cuda.get("minor_version_compat", [])
        )
        branches = tuple(
            DriverBranch(b["last_branch"], tuple(parse_cc(cc) for cc in b["compute_capabilities"]),
                         b.get("last_torch_variant"), _text(b["source"]), b.get("verified") is True)
            for b in cuda.get("driver_branches", [])
        )
        series = tuple(_series(s) for s in torch.get("series", []))
        gpus = tuple(
            GpuModel(g["match"], parse_cc(g["compute_capability"]), g.get("family"), _text(g["source"]),
                     g.get("verified") is True)
            for g in data.get("gpus.yaml", {}).get("gpus", [])
        )
        errors = tuple(
            KnownError(e["code"], e["pattern"], e["title"], e["cause"], e["fix"], _text(e["source"]),
                       tuple(e.get("related_findings") or ()))
            for e in data.get("errors.yaml", {}).get("known_errors", [])
        )
        from envdoctor.matrix.facts import fact_statuses  # facts.py imports this module: a cycle otherwise

        return cls(
            where=where,
            toolkits=toolkits,
            minor_compat=compat,
            series=series,
            gpus=gpus,
            known_errors=errors,
            gptsovits=data.get("gptsovits.yaml", {}),
            binaries=tuple(_binary_role(b) for b in data.get("binaries.yaml", {}).get("binaries", [])),
            driver_branches=branches,
            companions=data.get("companions.yaml", {}),
            about=data.get("about.yaml", {}),
            mirrors=tuple(Mirror(m["name"], dict(m["title"]), m["region"], m["layout"], m["url"],
                                 _text(m["source"]), m.get("verified") is True, str(m.get("notes") or ""))
                          for m in data.get("mirrors.yaml", {}).get("mirrors", [])),
            fact_statuses=fact_statuses(data),
        )

    # -- lookups -------------------------------------------------------------------------------

    def toolkit(self, cuda_version: str) -> Optional[Toolkit]:
        """The toolkit entry of this major.minor CUDA version, if the matrix knows it."""
        wanted = _major_minor(cuda_version)
        return next((t for t in self.toolkits if _major_minor(t.version) == wanted), None)

    def series_of(self, torch_release: str) -> Optional[TorchSeries]:
        wanted = _major_minor(torch_release)
        return next((s for s in self.series if _major_minor(s.series) == wanted), None)

    def gpu_capability(self, name: str) -> Optional[GpuModel]:
        for model in self.gpus:
            if re.search(model.match, name, re.IGNORECASE):
                return model
        return None

    def binary_role(self, path: str) -> BinaryRole:
        """The first binaries.yaml row whose pattern matches path; UNKNOWN_BINARY when none does."""
        return next((row for row in self.binaries if row.matches(path)), UNKNOWN_BINARY)

    def toolkits_for_arch(self, cc: ComputeCapability) -> List[Toolkit]:
        """Toolkits that can compile SASS for this exact major.minor, oldest first."""
        name = arch_name(cc)
        return sorted((t for t in self.toolkits if name in t.sass_archs), key=lambda t: as_tuple(t.version))

    def minor_compat_of(self, cuda_version: str) -> Optional[MinorCompat]:
        major = as_tuple(cuda_version)[:1]
        return next((c for c in self.minor_compat if (c.major,) == major), None)

    def driver_can_start(self, cuda_version: str, driver_version: str, platform: str) -> Tuple[bool, Optional[str]]:
        """Can a driver start a CUDA runtime of this version at all, and which driver does it need?

        `required` is the floor of the CUDA major (minor-version compatibility: every runtime of the
        major starts on it, PTX JIT aside), or the toolkit's own minimum when the matrix knows no
        floor for the major; None when the matrix knows neither (then the answer is True: unknown
        is not a reason to refuse). Upgrade plans call this to refuse a build the driver cannot start.
        """
        compat = self.minor_compat_of(cuda_version)
        required = compat.min_driver.get(platform) if compat else None
        if required is None:
            toolkit = self.toolkit(cuda_version)
            required = toolkit.min_driver.get(platform) if toolkit else None
        if required is None:
            return True, None
        return at_least(driver_version, required), required

    def newest_driver_branch(self, cc: ComputeCapability) -> Optional[DriverBranch]:
        """The last driver branch that supports this GPU, when NVIDIA has ended its support (else None)."""
        return next((b for b in self.driver_branches if tuple(cc) in b.compute_capabilities), None)

    def fact_status(self, file: str, ref: str) -> Optional[FactStatus]:
        return next((f for f in self.fact_statuses if f.file == file and f.ref == ref), None)

    def mirror(self, name: str) -> Optional[Mirror]:
        """The mirrors.yaml entry of this name (any case), if the matrix knows it."""
        wanted = name.strip().lower()
        return next((m for m in self.mirrors if m.name == wanted), None)

    # -- companions of torch ------------------------------------------------------------------

    def onnxruntime_gpu(self, version: str) -> Optional[Dict[str, Any]]:
        """The onnxruntime-gpu entry (CUDA major, cuDNN major, archs) of this release or its series."""
        entries = self.companions.get("onnxruntime_gpu", [])
        exact = next((e for e in entries if e["version"] == version), None)
        if exact is not None:
            return exact
        wanted = _major_minor(version)
        return next((e for e in entries if _major_minor(e["version"]) == wanted), None)

    def torchcodec_for(self, torch_release: str, verified_only: bool = True) -> List[str]:
        """torchcodec releases made for this torch series, newest first (its README's table). Rows whose
        torch pairing is not verified (0.13+: the wheels do not say) are left out unless asked for."""
        wanted = _major_minor(torch_release)
        found = []
        for entry in self.companions.get("torchcodec", []):
            if verified_only and entry.get("verified") is not True:
                continue
            spec = entry["torch"]
            floor = spec.startswith(">=")
            if (floor and wanted >= _major_minor(spec[2:])) or (not floor and wanted == _major_minor(spec)):
                found.append(entry["torchcodec"])
        return sorted(found, key=as_tuple, reverse=True)

    def audio_io(self, torchaudio_version: str) -> Optional[Dict[str, Any]]:
        """How this torchaudio loads and saves audio (backend, what it needs, its error strings)."""
        version = _major_minor(torchaudio_version.split("+")[0])
        for entry in self.companions.get("audio_io", []):
            low = _major_minor(entry["torchaudio_min"])
            high = _major_minor(entry["torchaudio_max"]) if entry.get("torchaudio_max") else None
            if version >= low and (high is None or version <= high):
                return entry
        return None

    def torchaudio_cuda_major(self, torchaudio_version: str) -> Optional[int]:
        """The CUDA major the package-index wheel of this torchaudio is built for (None: unknown)."""
        entry = next((e for e in self.companions.get("torchaudio_builds", [])
                      if e["torchaudio"] == torchaudio_version), None)
        return entry["cuda_major"] if entry else None

    # -- how much of the matrix is verified ------------------------------------------------------

    def verified_share(self, blocking_only: bool = False) -> Tuple[int, int]:
        """(verified rows, rows), of all facts or only those a verdict can block on."""
        rows = [f for f in self.fact_statuses if f.blocking or not blocking_only]
        return sum(1 for f in rows if f.verified), len(rows)


def _major_minor(version: str) -> Tuple[int, ...]:
    return as_tuple(version)[:2]


def _binary_role(item: dict) -> BinaryRole:
    use = item.get("gptsovits")
    return BinaryRole(
        name=item["name"],
        match=item["match"],
        role=item["role"],
        serves=dict(item["serves"]),
        source=_text(item["source"]),
        kernels=item.get("kernels"),
        gptsovits=GptSovitsUse(bool(use["uses"]), bool(use["blocking"]), dict(use["why"]), _text(use["source"]))
        if use else None,
    )


def _text(source: Any) -> str:
    """A source (string or object) as one evidence line."""
    return citation(source).text


def _series(item: dict) -> TorchSeries:
    variants = []
    for v in item["variants"]:
        archs = {
            platform: ArchSet(tuple(spec.get("sass", [])), tuple(spec.get("ptx", [])))
            for platform, spec in (v.get("archs") or {}).items()
        }
        variants.append(TorchVariant(v["name"], v.get("cuda"), v.get("index_url"), archs, _text(v["source"]),
                                     v.get("verified") is True))
    releases = tuple(
        TorchRelease(r["torch"], r.get("torchaudio"), r.get("torchvision")) for r in item["releases"]
    )
    return TorchSeries(
        series=item["series"],
        python_min=item["python"]["min"],
        python_max=item["python"]["max"],
        releases=releases,
        default_variant=item.get("default_variant"),
        variants=tuple(variants),
        source=_text(item["source"]),
    )
