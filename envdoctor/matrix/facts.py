"""Every row of the matrix as a fact with its verification status, and whether a verdict can block on it.

"Blocking" follows what the rules do with a fact (envdoctor/diagnose/rules):
- minor_version_compat: driver-too-old blocks below the floor of a CUDA major;
- a toolkit's min_driver only when its major has no floor (otherwise it can only warn);
- a toolkit's sass_archs: nvrtc-too-old (NVRTC rejects the GPU's -arch);
- a CUDA torch variant's arch lists: no-kernels-for-gpu and fp16-attention-abort-risk, when neither a
  scan of the installed binaries nor the live probe answers first;
- a gpus.yaml row: the compute capability of a GPU known only by name;
- companions.yaml audio_io: torchaudio-needs-torchcodec (torchaudio 2.9+ without TorchCodec);
- companions.yaml onnxruntime_gpu: g2pw-no-kernels (G2PW's CUDA provider has no kernel for the GPU).
Everything else (errors, pins, other companions, mirrors, Python ranges) informs or warns, never blocks.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from envdoctor.matrix.verification import citation
from envdoctor.matrix.views import FactStatus


def fact_statuses(data: Dict[str, dict]) -> Tuple[Any, ...]:

    facts: List[FactStatus] = []

    def add(file: str, ref: str, row: dict, blocking: bool, claim: str = "verified",
            source_key: str = "source") -> None:
        cited = citation(row.get(source_key))
        facts.append(FactStatus(file, ref, row.get(claim) is True, cited.kind, blocking, cited.url))

    cuda = data.get("cuda.yaml", {})
    floors = {c["major"] for c in cuda.get("minor_version_compat", [])}
    for toolkit in cuda.get("toolkits", []):
        version = toolkit["version"]
        major = int(version.split(".")[0])
        add("cuda.yaml", f"toolkits[{version}].min_driver", toolkit, blocking=major not in floors)
        add("cuda.yaml", f"toolkits[{version}].sass_archs", toolkit, True, "archs_verified", "archs_source")
    for compat in cuda.get("minor_version_compat", []):
        add("cuda.yaml", f"minor_version_compat[{compat['major']}]", compat, True)
    for branch in cuda.get("driver_branches", []):
        add("cuda.yaml", f"driver_branches[R{branch['last_branch']}]", branch, False)

    for series in data.get("torch.yaml", {}).get("series", []):
        name = series["series"]
        add("torch.yaml", f"series[{name}]", series, False)
        for variant in series.get("variants", []):
            blocking = bool(variant.get("cuda")) and bool(variant.get("archs"))
            add("torch.yaml", f"series[{name}].variants[{variant['name']}]", variant, blocking)
            aarch64 = (variant.get("archs") or {}).get("linux-aarch64")
            if aarch64:  # its own row: a block on an ARM machine rests on it
                add("torch.yaml", f"series[{name}].variants[{variant['name']}].archs[linux-aarch64]", aarch64,
                    bool(variant.get("cuda")))

    for gpu in data.get("gpus.yaml", {}).get("gpus", []):
        add("gpus.yaml", f"gpus[{gpu['match']}]", gpu, True)

    for error in data.get("errors.yaml", {}).get("known_errors", []):
        add("errors.yaml", f"known_errors[{error['code']}]", error, False)

    gptsovits = data.get("gptsovits.yaml", {})
    for section in ("known_good", "bundles", "pins", "avoid", "device_selection"):
        for index, row in enumerate(gptsovits.get(section, [])):
            label = (row.get("name") or row.get("requirement") or row.get("series") or row.get("torch")
                     or row.get("generation") or index)
            add("gptsovits.yaml", f"{section}[{label}]", row, False)

    companions = data.get("companions.yaml", {})
    for section, key in (("audio_io", "torchaudio_min"), ("torchaudio_builds", "torchaudio"),
                         ("torchcodec", "torchcodec"), ("onnxruntime_gpu", "version")):
        for row in companions.get(section, []):
            add("companions.yaml", f"{section}[{row[key]}]", row, section in ("audio_io", "onnxruntime_gpu"))

    for mirror in data.get("mirrors.yaml", {}).get("mirrors", []):
        add("mirrors.yaml", f"mirrors[{mirror['name']}]", mirror, False)
    return tuple(facts)
