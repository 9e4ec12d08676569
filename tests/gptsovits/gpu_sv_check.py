"""Manual GPU check (not run by pytest): the `--v2pro-sv cpu` patch on REAL upstream sv.py + eres2net
code with REAL torch gives the same speaker embedding as upstream's own GPU path.

    git --git-dir GSV_GIT archive HEAD GPT_SoVITS/sv.py GPT_SoVITS/eres2net | tar -x -C UPSTREAM
    python -m tests.gptsovits.gpu_sv_check UPSTREAM [--python PYTHON_WITH_TORCH]

The checkpoint is a randomly initialised ERes2NetV2 (seeded): the point is equal numbers, not a real
voice. Prints one JSON line; exit 0 when the CPU path matches the GPU path (cosine > 0.999), the
environment switch gives upstream's GPU result again, and --revert restores the tree byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MAKE_CKPT = """
import os, sys, torch
sys.path.append(os.getcwd() + "/GPT_SoVITS/eres2net")
from ERes2NetV2 import ERes2NetV2
torch.manual_seed(0)
model = ERes2NetV2(baseWidth=24, scale=4, expansion=4)
os.makedirs("GPT_SoVITS/pretrained_models/sv", exist_ok=True)
torch.save(model.state_dict(), "GPT_SoVITS/pretrained_models/sv/pretrained_eres2netv2w24s4ep4.ckpt")
"""

EMBED = """
import json, os, sys, time, torch
sys.path.insert(0, "GPT_SoVITS")
from sv import SV
half = sys.argv[2] == "half"
device = sys.argv[3]
torch.manual_seed(1)
wav = (torch.rand(1, 16000 * 3) * 2 - 1).to(device)
model = SV(device, half)
start = time.perf_counter()
emb = model.compute_embedding3(wav.half() if half else wav)
if device.startswith("cuda"):
    torch.cuda.synchronize()
torch.save(emb.float().cpu(), sys.argv[1])
print(json.dumps({"device": str(emb.device), "dtype": str(emb.dtype), "shape": list(emb.shape),
                  "model_device": str(next(model.embedding_model.parameters()).device),
                  "seconds": round(time.perf_counter() - start, 4), "torch": torch.__version__,
                  "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else "-"}))
"""

COMPARE = """
import json, sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
cos = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
print(json.dumps({"cosine": cos, "max_abs_diff": (a - b).abs().max().item(), "equal": bool(torch.equal(a, b))}))
"""


def digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".envdoctor" not in p.parts and p.suffix != ".pt"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream", help="folder holding upstream GPT_SoVITS/sv.py and GPT_SoVITS/eres2net/")
    parser.add_argument("--python", default=sys.executable, help="a Python with CUDA torch")
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run of the script)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "gsv"
        shutil.copytree(Path(args.upstream) / "GPT_SoVITS", root / "GPT_SoVITS")
        (root / "webui.py").write_text("# placeholder: configure looks for webui.py\n")

        def embed(out: str, precision: str, env: dict = None) -> dict:
            return py(EMBED, out, precision, args.device, env=env)

        def py(code: str, *argv: str, env: dict = None) -> dict:
            done = subprocess.run([args.python, "-c", code, *argv], cwd=root, capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {})))
            if done.returncode != 0:
                raise SystemExit(f"failed: {done.stderr[-2000:]}")
            lines = done.stdout.strip().splitlines()
            return json.loads(lines[-1]) if lines else {}

        py(MAKE_CKPT)
        before = digest(root)
        report = {"upstream_gpu_fp32": embed("gpu32.pt", "float"),
                  "upstream_gpu_fp16": embed("gpu16.pt", "half" if args.device != "cpu" else "float")}
        envdoctor = [sys.executable, "-m", "envdoctor", "configure", "--root", str(root), "--v2pro-sv", "cpu",
                     "--fp16", "off", "--arch-list", "off", "--yes", "--json"]
        configured = subprocess.run(envdoctor, capture_output=True, text=True,
                                    env=dict(os.environ, PYTHONPATH=str(REPO)))
        report["configure_exit"] = configured.returncode
        report["patched_cpu_for_fp16_caller"] = embed("cpu_h.pt", "half" if args.device != "cpu" else "float")
        report["patched_cpu_for_fp32_caller"] = embed("cpu_f.pt", "float")
        report["env_on_fp32"] = embed("on32.pt", "float", env={"GPT_SOVITS_SV_MODE": "on"})
        report["cpu_vs_gpu_fp32"] = py(COMPARE, "cpu_f.pt", "gpu32.pt")
        report["cpu_for_fp16_caller_vs_gpu_fp32"] = py(COMPARE, "cpu_h.pt", "gpu32.pt")
        report["upstream_fp16_vs_fp32"] = py(COMPARE, "gpu16.pt", "gpu32.pt")
        report["env_on_vs_upstream"] = py(COMPARE, "on32.pt", "gpu32.pt")
        reverted = subprocess.run([*envdoctor[:6], "--revert"], capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONPATH=str(REPO)))
        report["revert_exit"] = reverted.returncode
        report["revert_byte_identical"] = digest(root) == before
    ok = (report["configure_exit"] == 0 and report["revert_exit"] == 0 and report["revert_byte_identical"]
          and report["patched_cpu_for_fp16_caller"]["model_device"] == "cpu"
          and report["patched_cpu_for_fp16_caller"]["device"].startswith(args.device)
          and report["cpu_vs_gpu_fp32"]["cosine"] > 0.999 and report["env_on_vs_upstream"]["cosine"] > 0.99999)
    report["ok"] = ok
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
