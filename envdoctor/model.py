"""The data model: facts that probes collect, findings that the diagnosis makes, the report.

Everything here is a frozen dataclass with no behaviour beyond small derived properties and
conversion to plain JSON-able dictionaries. Probes create facts, rules create findings, renderers
read both; nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

ComputeCapability = Tuple[int, int]


def format_cc(cc: Optional[ComputeCapability]) -> str:
    return "?" if cc is None else f"{cc[0]}.{cc[1]}"


def arch_name(cc: Optional[ComputeCapability]) -> str:
    """(12, 0) -> 'sm_120': how CUDA names the architecture of a compute capability."""
    return "sm_?" if cc is None else f"sm_{cc[0]}{cc[1]}"


def arch_of(text: Any) -> str:
    """'12.0' (as a report stores it) -> 'sm_120'; text that is no compute capability is kept after 'sm_'."""
    try:
        return arch_name(parse_cc(str(text)))
    except ValueError:
        return f"sm_{str(text).replace('.', '')}"


def arch_order(name: str) -> Tuple[int, int, int, str, str]:
    """Sort key of arch names: by compute capability ('sm_86' < 'sm_90' < 'sm_90a' < 'sm_100' < 'sm_120'),
    then variant and prefix ('compute_90' beside 'sm_90'); names that are no arch last, by name."""
    prefix, _, rest = name.strip().lower().rpartition("_")
    digits = "".join(ch for ch in rest if ch.isdigit())
    if len(digits) < 2 or not rest.startswith(digits):
        return (1, 0, 0, name, "")
    return (0, int(digits[:-1]), int(digits[-1]), rest[len(digits):], prefix)


def parse_cc(text: str) -> ComputeCapability:
    """'12.0' -> (12, 0); '8.6' -> (8, 6); '120' or 'sm_120' -> (12, 0)."""
    value = text.strip().lower()
    if value.startswith("sm_"):
        value = value[3:]
    if "." in value:
        major, minor = value.split(".", 1)
        return int(major), int(minor)
    if value.isdigit() and len(value) >= 2:
        return int(value[:-1]), int(value[-1])
    raise ValueError(f"not a compute capability: {text!r}")


class Severity(str, enum.Enum):
    OK = "ok"
    WARNING = "warning"
    BLOCKING = "blocking"

    @property
    def rank(self) -> int:
        return {"ok": 0, "warning": 1, "blocking": 2}[self.value]


class Verdict(str, enum.Enum):
    """The one-line answer of a check; its exit code is what launcher scripts act on."""

    READY = "ready"
    WARNINGS = "warnings"
    WILL_FAIL = "will-fail"
    COULD_NOT_CHECK = "could-not-check"

    @property
    def exit_code(self) -> int:
        return {"ready": 0, "warnings": 1, "will-fail": 2, "could-not-check": 3}[self.value]

    @classmethod
    def from_severity(cls, severity: Severity) -> Verdict:
        return {Severity.OK: cls.READY, Severity.WARNING: cls.WARNINGS, Severity.BLOCKING: cls.WILL_FAIL}[
            severity
        ]


@dataclass(frozen=True)
class ProbeAttempt:
    """One source a probe asked, and what came of it (for 'which source answered' logging)."""

    source: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: Optional[ComputeCapability]
    uuid: Optional[str] = None
    memory_total_mib: Optional[int] = None
    source: str = "unknown"

    @property
    def cc_text(self) -> str:
        return format_cc(self.compute_capability)


@dataclass(frozen=True)
class Driver:
    version: str
    cuda_version: Optional[str] = None  # newest CUDA the driver supports, e.g. "12.9"
    source: str = "unknown"


@dataclass(frozen=True)
class GpuFacts:
    """What the machine has. `driver is None` and no GPUs is a normal state: no NVIDIA driver."""

    gpus: Tuple[Gpu, ...]
    driver: Optional[Driver]
    attempts: Tuple[ProbeAttempt, ...] = ()


@dataclass(frozen=True)
class Distribution:
    name: str  # normalised (PEP 503)
    version: str
    path: str = ""


@dataclass(frozen=True)
class Runtime:
    """A Python environment envdoctor inspects (GPT-SoVITS' runtime/ or any interpreter)."""

    root: str
    python: str
    layout: str  # "windows-embedded" | "windows-venv" | "posix-prefix" | "interpreter"
    platform: str  # "windows" | "linux" | "darwin"
    python_version: Optional[str]
    site_packages: Tuple[str, ...]
    source: str = "files"


@dataclass(frozen=True)
class TorchBuild:
    """torch facts read from files (torch/version.py and dist-info), without importing torch."""

    version: str  # "2.6.0+cu124"
    release: str  # "2.6.0"
    local: Optional[str]  # "cu124" | "cpu" | "rocm6.2" | None
    cuda: Optional[str]  # "12.4", None for CPU builds
    hip: Optional[str]
    git_version: Optional[str]
    cudnn: Optional[str]
    location: str  # the torch package directory
    source: str = "torch/version.py"
    # Why the files cannot be trusted (version.py of NUL bytes, garbage METADATA...), None when sound.
    # A damaged build is never judged CPU-only: cuda None may only mean "could not read it".
    damage: Optional[str] = None
    # The CPU the wheel was built for, from its dist-info WHEEL tag: "x86_64" | "aarch64" | None (unread).
    # Linux aarch64 CUDA wheels carry their own arch lists (matrices/torch.yaml linux-aarch64).
    machine: Optional[str] = None
    # The NVRTC torch will load, as its files say ("12.9.86"), and how that was read; None where the
    # files do not say (torch's own CUDA version stands in). Users replace it (see probes/nvrtc.py).
    nvrtc: Optional[str] = None
    nvrtc_source: Optional[str] = None

    @property
    def is_cuda(self) -> bool:
        return self.cuda is not None


@dataclass(frozen=True)
class LiveDevice:
    index: int
    name: str
    compute_capability: Optional[ComputeCapability]


@dataclass(frozen=True)
class LiveProbe:
    """What the runtime's own interpreter said after `import torch` (run in a child process)."""

    status: str  # "ok" | "failed" | "crashed" | "timeout" | "skipped"
    torch_version: Optional[str] = None
    cuda_version: Optional[str] = None
    cuda_available: Optional[bool] = None
    arch_list: Tuple[str, ...] = ()
    devices: Tuple[LiveDevice, ...] = ()
    error: Optional[str] = None
    duration_s: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class BinaryCoverageSummary:
    """Arch counts of one CUDA binary, as read from its fat-binary headers.

    sass/ptx: the registered fat binary (what the CUDA runtime loads, and all cuobjdump lists);
    embedded_sass/embedded_ptx: containers found in the data sections that the library loads
    itself (cuFFT keeps nearly all its kernels there).  What the library can run is the union:
    all_sass / all_ptx. The fat-binary scanner's own result (probes.fatbin.BinaryScan) is this plus
    what only the scan and its cache need; `BinaryScan.summary()` gives the part a check keeps."""

    path: str
    sass: Dict[str, int]
    ptx: Dict[str, int]
    error: Optional[str] = None
    embedded_sass: Dict[str, int] = field(default_factory=dict)
    embedded_ptx: Dict[str, int] = field(default_factory=dict)
    searched: bool = False  # whether the scanner looked for embedded containers at all

    @property
    def all_sass(self) -> Dict[str, int]:
        """Registered and embedded SASS together, oldest architecture first: what the library can run."""
        return _summed(self.sass, self.embedded_sass)

    @property
    def all_ptx(self) -> Dict[str, int]:
        return _summed(self.ptx, self.embedded_ptx)


def _summed(first: Dict[str, int], second: Dict[str, int]) -> Dict[str, int]:
    out = dict(first)
    for name, count in second.items():
        out[name] = out.get(name, 0) + count
    return {name: out[name] for name in sorted(out, key=arch_order)}


@dataclass(frozen=True)
class Facts:
    gpu: GpuFacts
    runtime: Optional[Runtime] = None
    torch: Optional[TorchBuild] = None
    distributions: Tuple[Distribution, ...] = ()
    live: Optional[LiveProbe] = None
    binaries: Tuple[BinaryCoverageSummary, ...] = ()
    host_platform: str = "linux"
    # Memo failures the GPT-SoVITS configuration works around: {finding code: how}, e.g. after
    # `envdoctor configure --fp16 off` {"fp16-attention-abort-risk": "is_half=False"}.
    workarounds: Dict[str, str] = field(default_factory=dict)
    # Whose GPU and driver `gpu` describes: "host" (this machine's), "override" (ENVDOCTOR_GPUS),
    # "given" (--assume-gpu/--assume-driver), "report" (--facts-from a user's report.json), "simulated"
    # (the demo's machine), "unknown" (a bundle for another OS: this machine's GPU is not its user's).
    gpu_origin: str = "host"
    # The GPT-SoVITS folder's config.py lines that decide its inference device (probes/gptsovits_config.py),
    # () for no GPT-SoVITS folder; and the variables that steer CUDA's device list (CUDA_VISIBLE_DEVICES,
    # CUDA_DEVICE_ORDER) where set.
    device_config: Tuple[str, ...] = ()
    device_env: Dict[str, str] = field(default_factory=dict)

    @property
    def foreign_platform(self) -> Optional[str]:
        """The runtime's OS where it is not this machine's (a Windows bundle examined from Linux or WSL):
        its interpreter cannot run here, so neither can `envdoctor upgrade` on it. The demo simulates the
        bundle's own machine, so it is never foreign."""
        if self.runtime is None or self.gpu_origin == "simulated" or self.runtime.platform == self.host_platform:
            return None
        return self.runtime.platform

    def distribution(self, name: str) -> Optional[Distribution]:
        for dist in self.distributions:
            if dist.name == name:
                return dist
        return None


class Line(str):
    """One of envdoctor's own evidence lines ("driver 576.02 (nvml)"). It is its English text (what
    --json, support and scripts read: evidence stays English there) and carries the catalogue key
    (`line.*`) and parameters a renderer says it with in the reader's language, so no renderer has to
    parse English back. Text quoted from a program (a torch error, a cited source) stays a plain str."""

    key: str
    params: Dict[str, Any]

    def __new__(cls, text: str, key: str, **params: Any) -> Line:
        line = super().__new__(cls, text)
        line.key, line.params = key, params
        return line

    def __reduce__(self) -> Any:  # copy/pickle keep the key and parameters
        return (_line, (str(self), self.key, self.params))

    def to_json(self) -> Dict[str, Any]:
        """{"key", "params"}: the line as data (a parameter that is itself a line, as data too)."""
        return {"key": self.key,
                "params": {k: v.to_json() if isinstance(v, Line) else v for k, v in self.params.items()}}


def _line(text: str, key: str, params: Dict[str, Any]) -> Line:
    return Line(text, key, **params)


def driver_line(version: str, source: str) -> Line:
    return Line(f"driver {version} ({source})", "line.driver", version=version, source=source)


def torch_cuda_line(torch: str, cuda: Optional[str]) -> Line:
    return Line(f"torch {torch} built with CUDA {cuda}", "line.torch_cuda", torch=torch, cuda=cuda)


def cuda_targets_line(cuda: str, archs: str) -> Line:
    return Line(f"CUDA {cuda} targets: {archs}", "line.cuda_targets", cuda=cuda, archs=archs)


def coverage_line(source: str, coverage: str, detail: str) -> Line:
    """What one source (scan, live, matrix) says of a GPU's coverage."""
    return Line(f"{source}: {coverage} ({detail})", "line.coverage", source=source, coverage=coverage, detail=detail)


def source_detail_line(source: str, detail: str) -> Line:
    return Line(f"{source}: {detail}", "line.source_detail", source=source, detail=detail)


def configured_line(how: str) -> Line:
    return Line(f"configured: {how}", "line.configured", how=how)


def predicted_line(line: str) -> Line:
    """A check's evidence line kept under a prediction a smoke test disproved."""
    return Line(f"predicted: {line}", "line.predicted", line=line)


def confirmed_line(test: str, status: str, exit: str = "") -> Line:
    text = f"confirmed by smoke test {test}: {status}" + (f" ({exit})" if exit else "")
    return Line(text, "line.confirmed", test=test, status=status, exit=exit)


def known_error_line(code: str) -> Line:
    return Line(f"known error: {code}", "line.known_error", code=code)


# Lines the probes write into their facts (a reason, an attempt's outcome). They travel through the GPU
# cache as data (to_jsonable(lines=True) / revive_lines); in --json and report.json they are text, which
# envdoctor.i18n.lines still reads back by shape.

def probe_attempt_line(source: str, detail: str) -> Line:
    return Line(f"{source}: {detail}", "line.probe_attempt", source=source, detail=detail)


def gpu_count_line(count: int) -> Line:
    return Line(f"{count} GPU(s)", "line.gpu_count", count=count)


def gpu_cache_line() -> Line:
    return Line("driver files unchanged since the last answer", "line.gpu_cache")


def assumed_line() -> Line:
    return Line("--assume-gpu/--assume-driver", "line.assumed")


def no_torch_line() -> Line:
    return Line("torch is not installed in this runtime", "line.no_torch")


def foreign_runtime_line(platform: str, host: str) -> Line:
    return Line(f"a {platform} runtime cannot run on {host}", "line.runtime_foreign", platform=platform, host=host)


def foreign_bundle_line(platform: str, host: str) -> Line:
    return Line(f"a {platform} bundle examined on {host}: this machine's GPU is not its user's",
                "line.bundle_machine", platform=platform, host=host)


def no_answer_line(seconds: float) -> Line:
    return Line(f"no answer within {seconds:.0f} s", "line.no_answer", seconds=f"{seconds:.0f}")


def live_background_line() -> Line:
    return Line("the runtime's torch is being read in the background; the next check uses it", "line.live_background")


def no_gpu_line() -> Line:
    return Line("no GPU", "line.no_gpu")


def simulated_gpus_line() -> Line:
    return Line("simulated GPUs (ENVDOCTOR_GPUS) cannot run kernels", "line.simulated_gpus")


def smoke_result_line(test: str, gpu: str, status: str, exit: str = "", stage: str = "") -> Line:
    text = (f"{test} on GPU {gpu}: {status}" + (f" ({exit})" if exit else "")
            + (f", last stage {stage}" if stage else ""))
    return Line(text, "line.smoke_result", test=test, gpu=gpu, status=status, exit=exit, stage=stage)


@dataclass(frozen=True)
class Finding:
    """One judgement. Text lives in the message catalogues, keyed by `code`, filled from `params`;
    evidence is envdoctor's own lines (`Line`: key and parameters) and quoted text (plain str)."""

    code: str
    severity: Severity
    params: Dict[str, Any] = field(default_factory=dict)
    evidence: Tuple[str, ...] = ()
    gpu_index: Optional[int] = None


@dataclass(frozen=True)
class GpuVerdict:
    gpu_index: int
    verdict: Verdict
    coverage: Optional[str] = None  # "native" | "ptx-jit" | "none" | None when unknown


def to_jsonable(value: Any, lines: bool = False) -> Any:
    """Plain JSON types from dataclasses, enums and tuples (used by the JSON renderer and caches).
    A `Line` is its English text; LINES (caches only) keeps it as data instead: {"line": text, "key",
    "params"}, which `revive_lines` turns back into the Line."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), lines) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if lines and isinstance(value, Line):
        return {"line": str(value), "key": value.key,
                "params": {k: to_jsonable(v, lines) for k, v in value.params.items()}}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, lines) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, lines) for k, v in value.items()}
    return value


def revive_lines(value: Any) -> Any:
    """What to_jsonable(..., lines=True) wrote, with its Lines back (anything else as it is)."""
    if isinstance(value, list):
        return [revive_lines(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"line", "key", "params"} and isinstance(value["line"], str) \
            and isinstance(value["key"], str) and isinstance(value["params"], dict):
        return Line(value["line"], value["key"], **{str(k): revive_lines(v) for k, v in value["params"].items()})
    return {k: revive_lines(v) for k, v in value.items()}


@dataclass(frozen=True)
class CheckReport:
    """The outcome of `check` (and the base of `doctor` and `report`)."""

    facts: Facts
    findings: Tuple[Finding, ...]
    verdict: Verdict
    gpu_verdicts: Tuple[GpuVerdict, ...]
    matrix_where: str = ""
    timings_ms: Tuple[Tuple[str, float], ...] = ()  # where the time went, for --debug and bench/
