"""What every rule gets: the facts, the matrix, and a few derived views computed once.

Derivations live here (not in a rule) when more than one rule needs them: a GPU's effective
compute capability, each CUDA binary's role (matrices/binaries.yaml), and the kernel coverage of
the torch build for a GPU from each source. Only torch's core library (libtorch_cuda, torch_cuda.dll)
speaks for "torch" in the scan: a library loaded for some operations only (libtorch_cuda_linalg
starts at sm_80 in the cu130 builds) must not turn a working Turing card into "no kernels".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from envdoctor.diagnose import coverage, device_choice
from envdoctor.matrix.views import ROLE_CORE, ArchSet, BinaryRole, FactStatus, Matrix, TorchSeries, TorchVariant
from envdoctor.model import BinaryCoverageSummary, ComputeCapability, Facts, Gpu, arch_order


@dataclass(frozen=True)
class CoverageView:
    """How well one source says the torch build covers one GPU."""

    source: str  # "scan" | "live" | "matrix"
    verdict: str  # coverage.NATIVE | PTX_JIT | NONE
    detail: str  # e.g. "sm_90 SASS" or "sm_75 sm_80 sm_86"
    lacking: Tuple[str, ...] = ()  # binaries without coverage (scan only)
    # False when a binary behind this view could not be read completely (scan only): its "none"
    # may be a reading problem, not a fact.
    complete: bool = True


@dataclass
class DiagnosisContext:
    facts: Facts
    matrix: Matrix
    _cache: Dict[str, object] = field(default_factory=dict)

    # -- the GPU -------------------------------------------------------------------------------

    def capability(self, gpu: Gpu) -> Optional[ComputeCapability]:
        """NVML's answer, or the matrix's name table when a source gave only the name."""
        if gpu.compute_capability is not None:
            return gpu.compute_capability
        model = self.matrix.gpu_capability(gpu.name)
        return model.compute_capability if model else None

    def capability_fact(self, gpu: Gpu) -> Optional[FactStatus]:
        """The gpus.yaml row a capability rests on, when it came from the name table (not from the GPU)."""
        if gpu.compute_capability is not None:
            return None
        model = self.matrix.gpu_capability(gpu.name)
        return self.matrix.fact_status("gpus.yaml", f"gpus[{model.match}]") if model else None

    def device_choice(self) -> device_choice.DeviceChoice:
        """The GPU(s) GPT-SoVITS will infer on, as its config.py's generation picks (computed once)."""
        cached = self._cache.get("device_choice")
        if cached is None:
            known = device_choice.generations((self.matrix.gptsovits or {}).get("device_selection") or ())
            generation = device_choice.detect(self.facts.device_config, known) if self.facts.device_config else None
            cached = device_choice.choose(self.facts.gpu.gpus, self.capability, generation, self.facts.device_env)
            self._cache["device_choice"] = cached
        return cached  # type: ignore[return-value]

    def judged_gpus(self) -> Tuple[Gpu, ...]:
        """The GPUs the verdict is about: the one GPT-SoVITS uses (every visible one where its choice is
        not known); a GPU it leaves alone cannot stop it."""
        return self.device_choice().judged

    # -- the torch build in the matrix -----------------------------------------------------------

    def torch_series(self) -> Optional[TorchSeries]:
        torch = self.facts.torch
        return self.matrix.series_of(torch.release) if torch else None

    def torch_variant(self) -> Optional[TorchVariant]:
        torch, series = self.facts.torch, self.torch_series()
        if torch is None or series is None:
            return None
        name = torch.local or series.default_variant
        if name is None and torch.cuda:
            name = "cu" + torch.cuda.replace(".", "")
        return series.variant(name) if name else None

    def variant_fact(self) -> Optional[FactStatus]:
        series, variant = self.torch_series(), self.torch_variant()
        if series is None or variant is None:
            return None
        return self.matrix.fact_status("torch.yaml", f"series[{series.series}].variants[{variant.name}]")

    def view_facts(self, view: Optional[CoverageView]) -> List[Optional[FactStatus]]:
        """Matrix facts a coverage view rests on: only the matrix's own view rests on the arch list (an
        aarch64 list on its own row)."""
        if view is None or view.source != "matrix":
            return []
        facts = [self.variant_fact()]
        series, variant = self.torch_series(), self.torch_variant()
        if self.arch_platform() == AARCH64 and series is not None and variant is not None:
            facts.append(self.matrix.fact_status(
                "torch.yaml", f"series[{series.series}].variants[{variant.name}].archs[{AARCH64}]"))
        return facts

    def arch_platform(self) -> str:
        """The matrix's key for the build's arch lists: "linux", "windows", or "linux-aarch64" (ARM wheels
        are built with their own list: 8.0 and up, sm_110 for Thor)."""
        platform = self.facts.runtime.platform if self.facts.runtime else self.facts.host_platform
        torch = self.facts.torch
        return arch_key(platform, torch.machine if torch else None)

    def matrix_archs(self) -> Optional[ArchSet]:
        variant = self.torch_variant()
        if variant is None or not variant.archs:
            return None
        return variant_archs(variant, self.arch_platform())

    # -- coverage, by source ----------------------------------------------------------------------

    def role_of(self, binary: BinaryCoverageSummary) -> BinaryRole:
        return self.matrix.binary_role(binary.path)

    def binaries_with_kernels(self) -> List[BinaryCoverageSummary]:
        return [b for b in self.facts.binaries if b.all_sass or b.all_ptx]

    def core_binaries(self) -> List[BinaryCoverageSummary]:
        """torch's core CUDA libraries in this runtime (the ones whose kernels every operation needs)."""
        torch = self.facts.torch
        if torch is None:
            return []
        lib = _folder_key(os.path.join(torch.location, "lib"))
        return [b for b in self.binaries_with_kernels()
                if _folder_key(os.path.dirname(b.path)) == lib and self.role_of(b).role == ROLE_CORE]

    def other_binaries(self) -> List[BinaryCoverageSummary]:
        """Every binary with kernels that is not torch's core: judged one by one, by its role."""
        core = {b.path for b in self.core_binaries()}
        return [b for b in self.binaries_with_kernels() if b.path not in core]

    def coverage_views(self, cc: ComputeCapability) -> List[CoverageView]:
        views: List[CoverageView] = []
        binaries = self.core_binaries()
        if binaries:
            per_binary = [(b, coverage.verdict(cc, b.all_sass, b.all_ptx)) for b in binaries]
            worst = min((v for _, v in per_binary), key=_rank)  # each core library is loaded
            lacking = tuple(os.path.basename(b.path) for b, v in per_binary if v == coverage.NONE)
            sass = sorted({a for b in binaries for a in b.all_sass}, key=arch_order)
            ptx = sorted({a for b in binaries for a in b.all_ptx}, key=arch_order)
            detail = " ".join(sass) + (f" | PTX {' '.join(ptx)}" if ptx else "")
            complete = not any(b.error for b in binaries)
            views.append(CoverageView("scan", worst, detail, lacking, complete))
        live = self.facts.live
        if live is not None and live.status == "ok" and live.arch_list:
            sass_names, ptx_names = coverage.split_arch_list(live.arch_list)
            views.append(
                CoverageView("live", coverage.verdict(cc, sass_names, ptx_names), " ".join(live.arch_list))
            )
        archs = self.matrix_archs()
        if archs is not None:
            detail = " ".join(archs.sass) + (f" | PTX {' '.join(archs.ptx)}" if archs.ptx else "")
            views.append(CoverageView("matrix", coverage.verdict(cc, archs.sass, archs.ptx), detail))
        return views

    def coverage_for(self, cc: ComputeCapability) -> Optional[CoverageView]:
        """The most trustworthy view: what is in the files, then what torch says, then the matrix."""
        views = self.coverage_views(cc)
        return views[0] if views else None


AARCH64 = "linux-aarch64"


def arch_key(platform: str, machine: Optional[str]) -> str:
    return AARCH64 if platform == "linux" and machine == "aarch64" else platform


def variant_archs(variant: TorchVariant, key: str) -> Optional[ArchSet]:
    """The variant's arch list for KEY; Windows falls back to Linux x86_64's, aarch64 to nothing (its
    wheels are built for other archs: the x86_64 list would block Thor and pass a T4 falsely)."""
    if key == AARCH64:
        return variant.archs.get(AARCH64)
    return variant.archs.get(key) or variant.archs.get("linux")


def _folder_key(path: str) -> str:
    """Folder names compared as Windows does (Lib vs lib), with either separator."""
    return os.path.normpath(path.replace("\\", "/")).replace("\\", "/").rstrip("/").lower()


def _rank(verdict: str) -> int:
    return {coverage.NONE: 0, coverage.PTX_JIT: 1, coverage.NATIVE: 2}[verdict]
