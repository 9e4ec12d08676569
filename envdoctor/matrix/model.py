"""Typed, read-only views of the matrix data with the lookups the rules need."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from envdoctor.model import ComputeCapability, parse_cc
from envdoctor.versions import as_tuple


@dataclass(frozen=True)
class Toolkit:
    version: str
    min_driver: Dict[str, Optional[str]]  # platform -> driver version (None: unknown)
    sass_archs: Tuple[str, ...]
    source: str
    # torch's jiterator asks this NVRTC for at most this capability (PTX, JIT by the driver above it)
    jiterator_cap: Optional[ComputeCapability] = None
    jiterator_cap_source: str = ""


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
    kernels: Optional[str] = None  # "registered" | "embedded" | None (not measured)
    gptsovits: Optional[GptSovitsUse] = None

    def matches(self, path: str) -> bool:
        return re.search(self.match, path.replace("\\", "/"), re.IGNORECASE) is not None


# A binary no row covers: judged like an extension (a warning that names it, never blocking).
UNKNOWN_BINARY = BinaryRole("unknown", "", "unknown", {"en": "", "zh_CN": ""}, "envdoctor: no row in binaries.yaml")


@dataclass(frozen=True)
class Matrix:
    where: str
    toolkits: Tuple[Toolkit, ...]
    minor_compat: Tuple[dict, ...]
    series: Tuple[TorchSeries, ...]
    gpus: Tuple[GpuModel, ...]
    known_errors: Tuple[KnownError, ...]
    gptsovits: dict
    binaries: Tuple[BinaryRole, ...] = ()

    @classmethod
    def from_data(cls, data: Dict[str, dict], where: str) -> Matrix:
        cuda = data.get("cuda.yaml", {})
        torch = data.get("torch.yaml", {})
        toolkits = tuple(
            Toolkit(t["version"], dict(t["min_driver"]), tuple(t["sass_archs"]), t["source"],
                    parse_cc(t["jiterator_cap"]["cc"]) if t.get("jiterator_cap") else None,
                    t["jiterator_cap"]["source"] if t.get("jiterator_cap") else "")
            for t in cuda.get("toolkits", [])
        )
        series = tuple(_series(s) for s in torch.get("series", []))
        gpus = tuple(
            GpuModel(g["match"], parse_cc(g["compute_capability"]), g.get("family"), g["source"])
            for g in data.get("gpus.yaml", {}).get("gpus", [])
        )
        errors = tuple(
            KnownError(e["code"], e["pattern"], e["title"], e["cause"], e["fix"], e["source"],
                       tuple(e.get("related_findings") or ()))
            for e in data.get("errors.yaml", {}).get("known_errors", [])
        )
        return cls(
            where=where,
            toolkits=toolkits,
            minor_compat=tuple(cuda.get("minor_version_compat", [])),
            series=series,
            gpus=gpus,
            known_errors=errors,
            gptsovits=data.get("gptsovits.yaml", {}),
            binaries=tuple(_binary_role(b) for b in data.get("binaries.yaml", {}).get("binaries", [])),
        )

    # -- lookups -------------------------------------------------------------------------------

    def toolkit(self, cuda_version: str) -> Optional[Toolkit]:
        """The toolkit entry of this major.minor CUDA version, if the matrix knows it."""
        wanted = _major_minor(cuda_version)
        return next((t for t in self.toolkits if _major_minor(t.version) == wanted), None)

    def series_of(self, torch_release: str) -> Optional[TorchSeries]:
        wanted = _major_minor(torch_release)
        return next((s for s in self.series if _major_minor(s.series) == wanted), None)

    def newest_series(self) -> Optional[TorchSeries]:
        return max(self.series, key=lambda s: as_tuple(s.series), default=None)

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
        name = f"sm_{cc[0]}{cc[1]}"
        return sorted((t for t in self.toolkits if name in t.sass_archs), key=lambda t: as_tuple(t.version))


def _major_minor(version: str) -> Tuple[int, ...]:
    return as_tuple(version)[:2]


def _binary_role(item: dict) -> BinaryRole:
    use = item.get("gptsovits")
    return BinaryRole(
        name=item["name"],
        match=item["match"],
        role=item["role"],
        serves=dict(item["serves"]),
        source=item["source"],
        kernels=item.get("kernels"),
        gptsovits=GptSovitsUse(bool(use["uses"]), bool(use["blocking"]), dict(use["why"]), use["source"])
        if use else None,
    )


def _series(item: dict) -> TorchSeries:
    variants = []
    for v in item["variants"]:
        archs = {
            platform: ArchSet(tuple(spec.get("sass", [])), tuple(spec.get("ptx", [])))
            for platform, spec in (v.get("archs") or {}).items()
        }
        variants.append(TorchVariant(v["name"], v.get("cuda"), v.get("index_url"), archs, v["source"]))
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
        source=item["source"],
    )
