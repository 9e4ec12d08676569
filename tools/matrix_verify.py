"""Maintainer command: measure real wheels and record what they carry, to back the matrix's `verified` flags.

    python tools/matrix_verify.py wheel torch==2.14.1 --variant cu130
    python tools/matrix_verify.py wheel /work/corpus-wheels/torch-2.8.0-...whl --variant cu128
    python tools/matrix_verify.py wheel onnxruntime-gpu==1.22.0 --cache /work/corpus-wheels
    python tools/matrix_verify.py nvrtc nvidia-cuda-nvrtc-cu12==12.8.93

`wheel` takes a wheel file, or a requirement that is looked up in --cache (a folder of wheels) and
otherwise fetched with `pip download` from pip's default index (or --index-url). Every CUDA library
in it is scanned with envdoctor's own fat-binary scanner (envdoctor/probes/fatbin/); the arch list
of the deciding library (torch: libtorch_cuda; onnxruntime-gpu: its CUDA provider) is compared with
what the matrix claims for that build, and the result is written as JSON under
matrices/measurements/, where `source.record` of a measured row points.

`nvrtc` loads libnvrtc from an nvidia-cuda-nvrtc wheel (no GPU needed) and records
nvrtcGetSupportedArchs, which is what cuda.yaml's sass_archs claims for that toolkit.

Exit status: 0 every measurement agrees with the matrix, 1 some disagree (the record says where),
3 a wheel could not be found, read or measured.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from envdoctor import __version__  # noqa: E402
from envdoctor.probes.fatbin import SCANNER_VERSION, is_shared_library_name, scan_file  # noqa: E402

MEASUREMENTS = REPO / "matrices" / "measurements"
SCHEMA = "envdoctor.matrix-measurement"
# The library whose arch list is "the build's": torch's kernels live in libtorch_cuda (older builds
# split it into libtorch_cuda_cu/_cpp), onnxruntime-gpu's in its CUDA execution provider.
DECIDING = {
    "torch": re.compile(r"(^|/)(lib)?torch_cuda(_cu)?\.(so|dll)$"),
    "onnxruntime-gpu": re.compile(r"(^|/)(lib)?onnxruntime_providers_cuda\.(so|dll)$"),
    "onnxruntime_gpu": re.compile(r"(^|/)(lib)?onnxruntime_providers_cuda\.(so|dll)$"),
}
_SUFFIXED = re.compile(r"^sm_\d+[af]$")


class VerifyError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Finding the wheel


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _parse_requirement(text: str) -> Tuple[str, Optional[str]]:
    name, _, version = text.partition("==")
    return name.strip(), (version.strip() or None)


def _wheel_matches(path: str, name: str, version: Optional[str]) -> bool:
    base = os.path.basename(path)
    parts = base.split("-")
    if len(parts) < 5 or _canonical(parts[0]) != _canonical(name):
        return False
    if version is None:
        return True
    wheel_version = parts[1].split("+")[0]
    return wheel_version == version or (version.endswith(".*") and wheel_version.startswith(version[:-1]))


def find_wheel(spec: str, cache: Optional[str], index_url: Optional[str], pip_args: Sequence[str] = ()) -> str:
    """A wheel path: the argument itself, a match in the cache folder, or one pip downloads into it."""
    if spec.endswith(".whl"):
        if not os.path.isfile(spec):
            raise VerifyError(f"no such wheel: {spec}")
        return spec
    name, version = _parse_requirement(spec)
    folder = cache or str(REPO / ".cache" / "wheels")
    os.makedirs(folder, exist_ok=True)
    found = sorted(p for p in glob.glob(os.path.join(folder, "*.whl")) if _wheel_matches(p, name, version))
    if found:
        return found[-1]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", folder, spec]
    if index_url:  # otherwise pip's own default index
        command += ["--index-url", index_url]
    command += list(pip_args)
    print("+ " + " ".join(command), file=sys.stderr)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise VerifyError(f"pip download {spec} failed (exit {done.returncode})")
    found = sorted(p for p in glob.glob(os.path.join(folder, "*.whl")) if _wheel_matches(p, name, version))
    if not found:
        raise VerifyError(f"pip download {spec} left no matching wheel in {folder}")
    return found[-1]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Scanning a wheel


def _extract(archive: zipfile.ZipFile, member: str, folder: str) -> str:
    target = os.path.join(folder, "lib.bin")
    with archive.open(member) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 22)
    return target


# Names of CUDA runtime libraries a binary links (its dynamic string table holds them): their
# major version is the CUDA / cuDNN major the package was built for.
_LINKED = re.compile(rb"(lib(?:cudart|cublasLt|cublas|cudnn|cufft|nvrtc)\.so\.\d+|"
                     rb"(?:cudart64|cublasLt64|cublas64|cudnn64|cufft64|nvrtc64)_\d+\.dll)")
_LINKED_SCAN_LIMIT = 300 << 20  # big torch libraries are not searched: torch's CUDA comes from version.py


def scan_wheel(path: str) -> Tuple[Dict[str, Dict[str, Dict[str, int]]], List[str]]:
    """({member: {"sass": counts, "ptx": counts}} of every shared library with CUDA code, CUDA libraries linked)."""
    libraries: Dict[str, Dict[str, Dict[str, int]]] = {}
    linked = set()
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="matrix-verify-") as folder:
        members = [m for m in archive.namelist() if is_shared_library_name(os.path.basename(m))]
        for index, member in enumerate(sorted(members), 1):
            print(f"  [{index}/{len(members)}] {member}", file=sys.stderr)
            extracted = _extract(archive, member, folder)
            scan = scan_file(extracted)
            if scan.error and scan.error != "not-elf-or-pe":
                raise VerifyError(f"{member}: {scan.error} {scan.error_detail or ''}")
            if scan.has_cuda:
                libraries[member] = {"sass": dict(scan.sass), "ptx": dict(scan.ptx)}
            if os.path.getsize(extracted) <= _LINKED_SCAN_LIMIT:
                with open(extracted, "rb") as handle:
                    linked.update(m.decode() for m in _LINKED.findall(handle.read()))
    return libraries, sorted(linked)


def requires_dist(path: str) -> List[str]:
    text = _wheel_text(path, ".dist-info/METADATA") or ""
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]


def grep_wheel(path: str, needle: str) -> List[str]:
    """Python files of the wheel that contain this text (evidence of an error message or a code path)."""
    with zipfile.ZipFile(path) as archive:
        return [m for m in archive.namelist()
                if m.endswith(".py") and needle.encode() in archive.read(m)]


def _wheel_text(path: str, suffix: str) -> Optional[str]:
    with zipfile.ZipFile(path) as archive:
        member = next((m for m in archive.namelist() if m.endswith(suffix)), None)
        return archive.read(member).decode("utf-8", "replace") if member else None


def built_cuda(path: str) -> Optional[str]:
    """torch/version.py's cuda = '13.0' (what torch.version.cuda says), if the wheel has one."""
    text = _wheel_text(path, "torch/version.py")
    match = re.search(r"^cuda\b[^=]*=\s*['\"]([0-9.]+)['\"]", text or "", re.MULTILINE)
    return match.group(1) if match else None


def release_arch_table(path: str) -> Optional[Dict[str, object]]:
    """torch/cuda/__init__.py's PYTORCH_RELEASES_CODE_CC (torch >= 2.11), read without importing torch.

    From 2.13 on it is kept in sync with the build's TORCH_CUDA_ARCH_LIST table by a validator (its
    comment says so), so it states the arch list of every CUDA variant the build system makes.
    """
    import ast

    text = _wheel_text(path, "torch/cuda/__init__.py")
    if not text:
        return None
    for node in ast.parse(text).body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == "PYTORCH_RELEASES_CODE_CC" and node.value is not None:
            try:
                table = ast.literal_eval(node.value)
            except ValueError:
                return None
            return json.loads(json.dumps(table, default=sorted))
    return None


def _arch_key(name: str) -> Tuple[int, str]:
    digits = re.sub(r"\D", "", name)
    return (int(digits) if digits else 0, name)


def arch_list(library: Dict[str, Dict[str, int]], plain_only: bool) -> Dict[str, object]:
    """The build's arch list: targets that (nearly) every kernel was compiled for.

    A build's arch list (TORCH_CUDA_ARCH_LIST, CMAKE_CUDA_ARCHITECTURES) puts every kernel in once per
    target, so those targets have about the same entry count; a handful of kernels compiled for an
    extra target (torch 2.7's two sm_89 FP8 kernels, sm_90a/sm_100a variants) do not make it part of
    the list. Targets below a quarter of the largest count are reported as `partial` with their counts.
    """
    result: Dict[str, object] = {}
    partial: Dict[str, int] = {}
    for kind in ("sass", "ptx"):
        counts = library.get(kind, {})
        eligible = {a: n for a, n in counts.items() if not (plain_only and _SUFFIXED.match(a))}
        top = max(eligible.values(), default=0)
        chosen = sorted((a for a, n in eligible.items() if n * 4 >= top), key=_arch_key)
        result[kind] = chosen
        partial.update({f"{kind}:{a}": n for a, n in counts.items() if a not in chosen})
    result["partial"] = dict(sorted(partial.items()))
    return result


# --------------------------------------------------------------------------------------------
# What the matrix claims


def _matrix():
    from envdoctor.matrix.loader import read_matrix_texts, validate_texts
    from envdoctor.matrix.views import Matrix

    where, texts = read_matrix_texts(str(REPO / "matrices"))
    return Matrix.from_data(validate_texts(where, texts, check_records=False), where)


def torch_claim(release: str, variant: str, platform: str) -> Dict[str, object]:
    matrix = _matrix()
    series = matrix.series_of(release)
    chosen = series.variant(variant) if series else None
    if chosen is None or platform not in chosen.archs:
        raise VerifyError(f"the matrix has no arch list for torch {release} {variant} {platform}")
    archs = chosen.archs[platform]
    return {"file": "torch.yaml", "ref": f"series[{series.series}].variants[{variant}]", "platform": platform,
            "sass": list(archs.sass), "ptx": list(archs.ptx)}


def onnxruntime_claim(version: str, platform: str) -> Dict[str, object]:
    entry = _matrix().onnxruntime_gpu(version)
    if entry is None or platform not in (entry.get("archs") or {}):
        raise VerifyError(f"the matrix has no arch list for onnxruntime-gpu {version} {platform}")
    archs = entry["archs"][platform]
    return {"file": "companions.yaml", "ref": f"onnxruntime_gpu[{entry['version']}]", "platform": platform,
            "sass": list(archs.get("sass", [])), "ptx": list(archs.get("ptx", []))}


def _platform_of(wheel: str) -> str:
    return "windows" if "win_amd64" in wheel or "win32" in wheel else "linux"


# --------------------------------------------------------------------------------------------
# Commands


def _record_name(wheel: str) -> str:
    """torch-2.14.1-manylinux_2_28_x86_64.json: package, version, last platform tag."""
    parts = os.path.basename(wheel)[:-4].split("-")
    name, version, platform_tag = _canonical(parts[0]).replace("_", "-"), parts[1], parts[-1].split(".")[-1]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{name}-{version}-{platform_tag}".replace("+", "_"))
    return stem + ".json"


def _write(record: Dict[str, object], out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    target = out / name
    target.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


def _base_record(kind: str, wheel: str, argv: Sequence[str]) -> Dict[str, object]:
    return {
        "schema": SCHEMA,
        "schema_version": 1,
        "kind": kind,
        "wheel": os.path.basename(wheel),
        "wheel_sha256": _sha256(wheel),
        "wheel_size": os.path.getsize(wheel),
        "command": "python tools/matrix_verify.py " + shlex.join(argv),
        "measured_on": datetime.date.today().isoformat(),
        "envdoctor_version": __version__,
        "scanner_version": SCANNER_VERSION,
    }


def command_wheel(args: argparse.Namespace, argv: Sequence[str]) -> int:
    wheel = find_wheel(args.spec, args.cache, args.index_url, args.pip_arg or ())
    base = os.path.basename(wheel)
    package = args.package or base.split("-")[0].replace("_", "-").lower()
    version = base.split("-")[1].split("+")[0]
    platform = args.platform or _platform_of(base)
    print(f"scanning {wheel}", file=sys.stderr)
    libraries, linked = scan_wheel(wheel)
    pattern = DECIDING.get(package)
    deciding = next((m for m in sorted(libraries) if pattern and pattern.search(m)), None)
    record = _base_record("wheel", wheel, argv)
    record.update({"package": package, "version": version, "platform": platform, "libraries": libraries,
                   "deciding_library": deciding, "linked_cuda_libraries": linked,
                   "requires_dist": requires_dist(wheel)})
    if args.grep:
        record["grep"] = {text: grep_wheel(wheel, text) for text in args.grep}
    if package == "torch":
        cuda = built_cuda(wheel)
        record["torch_version_cuda"] = cuda
        record["release_arch_table"] = release_arch_table(wheel)
        variant = args.variant or ("cu" + cuda.replace(".", "") if cuda else None)
        if variant is None:
            raise VerifyError("a CPU-only torch wheel: nothing to compare (pass --variant to force)")
        claim = torch_claim(version, variant, platform)
        measured = arch_list(libraries.get(deciding or "", {}), plain_only=True)
    elif package in ("onnxruntime-gpu", "onnxruntime_gpu"):
        try:
            claim = onnxruntime_claim(version, platform)
        except VerifyError as exc:  # a build the matrix does not know yet: record it, to add it from the record
            print(f"matrix_verify: {exc}; recording without a comparison", file=sys.stderr)
            claim = None
        measured = arch_list(libraries.get(deciding or "", {}), plain_only=False)
    else:
        claim, measured = None, None
    record["arch_list"] = measured
    record["claim"] = claim
    agrees = None
    if claim is not None and measured is not None:
        agrees = {"sass": measured["sass"] == claim["sass"], "ptx": measured["ptx"] == claim["ptx"]}
    record["agrees"] = agrees
    target = _write(record, Path(args.out), _record_name(wheel))
    print(json.dumps({"record": str(target), "deciding_library": deciding, "measured": measured, "claim": claim,
                      "agrees": agrees}, indent=1))
    return 0 if agrees is None or all(agrees.values()) else 1


_NVRTC_LIB = re.compile(r"(^|/)libnvrtc\.so(\.\d+)+$|(^|/)nvrtc64_\d+(_0)?\.dll$")


def nvrtc_supported_archs(library: str) -> List[int]:
    nvrtc = ctypes.CDLL(library)
    count = ctypes.c_int(0)
    if nvrtc.nvrtcGetNumSupportedArchs(ctypes.byref(count)) != 0:
        raise VerifyError("nvrtcGetNumSupportedArchs failed")
    archs = (ctypes.c_int * count.value)()
    if nvrtc.nvrtcGetSupportedArchs(archs) != 0:
        raise VerifyError("nvrtcGetSupportedArchs failed")
    return list(archs)


def _nvrtc_version(wheel: str) -> str:
    return os.path.basename(wheel).split("-")[1]


def command_nvrtc(args: argparse.Namespace, argv: Sequence[str]) -> int:
    wheel = find_wheel(args.spec, args.cache, args.index_url, args.pip_arg or ())
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory(prefix="matrix-nvrtc-") as folder:
        member = next((m for m in archive.namelist() if _NVRTC_LIB.search(m)), None)
        if member is None:
            raise VerifyError(f"{wheel} holds no libnvrtc")
        library = os.path.join(folder, os.path.basename(member))
        with archive.open(member) as source, open(library, "wb") as out:
            shutil.copyfileobj(source, out)
        archs = [f"sm_{a}" for a in nvrtc_supported_archs(library)]
    version = _nvrtc_version(wheel)
    toolkit = _matrix().toolkit(version)
    claim = {"file": "cuda.yaml", "ref": f"toolkits[{toolkit.version}].sass_archs",
             "sass": list(toolkit.sass_archs)} if toolkit else None
    record = _base_record("nvrtc", wheel, argv)
    record.update({"package": os.path.basename(wheel).split("-")[0], "version": version, "library": member,
                   "supported_archs": archs, "claim": claim,
                   "agrees": (archs == claim["sass"]) if claim else None})
    target = _write(record, Path(args.out), f"nvrtc-{'.'.join(version.split('.')[:2])}.json")
    print(json.dumps({"record": str(target), "supported_archs": archs, "claim": claim,
                      "agrees": record["agrees"]}, indent=1))
    return 0 if record["agrees"] in (True, None) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matrix_verify", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("wheel", "scan a torch / torchaudio / onnxruntime-gpu wheel and compare its archs"),
                            ("nvrtc", "record nvrtcGetSupportedArchs of an nvidia-cuda-nvrtc wheel")):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("spec", help="a .whl file, or a requirement like torch==2.14.1")
        command.add_argument("--cache", help="folder of wheels to reuse (and to download into)")
        command.add_argument("--index-url", help="package index to download from (default: pip's own)")
        command.add_argument("--pip-arg", action="append", help="extra argument for pip download (repeatable)")
        command.add_argument("--out", default=str(MEASUREMENTS), help="where the recorded output goes")
        if name == "wheel":
            command.add_argument("--package", help="package name (default: from the wheel name)")
            command.add_argument("--variant", help="torch variant in the matrix (default: from torch/version.py)")
            command.add_argument("--platform", choices=("linux", "windows"), help="default: from the wheel tag")
            command.add_argument("--grep", action="append", help="record which .py files contain this text")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return command_wheel(args, argv) if args.command == "wheel" else command_nvrtc(args, argv)
    except (VerifyError, OSError, zipfile.BadZipFile) as exc:
        print(f"matrix_verify: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
