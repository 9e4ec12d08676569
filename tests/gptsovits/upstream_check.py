"""Manual check of `envdoctor configure` against real upstream GPT-SoVITS files (not run by pytest).

Usage: python -m tests.gptsovits.upstream_check GIT_DIR
GIT_DIR is a clone (or bare mirror) of RVC-Boss/GPT-SoVITS. For each known upstream version the script
exports the files configure touches into a temporary tree, runs
`configure --fp16 off --v2pro-sv cpu --arch-list 12.0 --yes`, checks which targets were patched,
runs the patched upstream config.py and sv.py on the stand-in torch (sv.py with the stand-in
ERes2NetV2/kaldi beside it), then reverts and compares the tree byte for byte. Nothing is copied into
the repository; the upstream files live only in the temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from envdoctor.cli.main import main
from envdoctor.gptsovits.launchers import read_environment
from tests.gptsovits.trees import ERES2NET, KALDI, snapshot, write_standin_torch

VERSIONS = {
    # label: (commit, expected generation, expect config patch, expect sv patch)
    "v2-240821 era": ("7dac47ca957e05bee52ea6c64fcf6d2efb403a9f", "v2-2024", False, False),
    "v2pro first (921ac6c)": ("921ac6c41af9ba66250edadb3049f91c6ee06e8b", "v2pro-2025-06", False, True),
    "v2pro path fix (298ebb0)": ("298ebb0", "v2pro-2025-06", False, True),
    "autodtype (7d70852)": ("7d70852", "autodtype-2025-06", True, True),
    "main": ("HEAD", "autodtype-2025-06", True, True),
}
FILES = ("config.py", "webui.py", "go-webui.bat", "go-webui.ps1", "GPT_SoVITS/configs/tts_infer.yaml",
         "GPT_SoVITS/inference_webui.py", "GPT_SoVITS/sv.py")

SV_RUN = """
import json, sys
sys.path.insert(0, "GPT_SoVITS")
import torch
from sv import SV
import kaldi
model = SV("cuda", True)
emb = model.compute_embedding3(torch.zeros((1, 16000), dtype=torch.float16, device="cuda"))
print(json.dumps({"fbank": kaldi.CALLS, "emb": [str(emb.device), repr(emb.dtype)]}))
"""


def git_show(git_dir: str, commit: str, path: str) -> bytes:
    done = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], capture_output=True)
    return done.stdout if done.returncode == 0 else b""


def export(git_dir: str, commit: str, root: Path) -> None:
    for relative in FILES:
        data = git_show(git_dir, commit, relative)
        if data:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(data)
    listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "--name-only", commit, "tools/i18n"],
                             capture_output=True, text=True).stdout.split()
    for relative in listing:  # upstream config.py imports tools.i18n at module level
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(git_show(git_dir, commit, relative))
    (root / "GPT_SoVITS" / "eres2net").mkdir(parents=True, exist_ok=True)
    (root / "GPT_SoVITS" / "eres2net" / "kaldi.py").write_text(KALDI)
    (root / "GPT_SoVITS" / "eres2net" / "ERes2NetV2.py").write_text(ERES2NET)


def run(root: Path, standin: Path, code: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(standin), **env))
    return (done.stdout.strip().splitlines() or [""])[-1] if done.returncode == 0 else "ERROR " + done.stderr[-300:]


def main_check(git_dir: str) -> int:
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        standin = write_standin_torch(Path(folder) / "standin")
        for label, (commit, generation, want_config, want_sv) in VERSIONS.items():
            root = Path(folder) / label.replace(" ", "_").replace("(", "").replace(")", "")
            export(git_dir, commit, root)
            before = snapshot(root)
            lang = {"language": "Auto"}  # the 2025-06-04 config.py reads it unguarded (webui.py sets it)
            code_before = run(root, standin, "import config; print(config.is_half)", dict(lang, is_half="False"))
            with open(os.devnull, "w") as sink:
                stdout, sys.stdout = sys.stdout, sink
                try:
                    main(["configure", "--root", str(root), "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list",
                          "12.0", "--yes", "--json"])
                finally:
                    sys.stdout = stdout
            manifest = json.loads((root / ".envdoctor/configure/manifest.json").read_text())
            patched = set(manifest["files"])
            launcher_env = read_environment((root / "go-webui.sh").read_text())
            config_after = run(root, standin, "import config; print(config.is_half)", dict(lang, **launcher_env))
            config_bare = run(root, standin, "import config; print(config.is_half)", lang)
            sv_after = run(root, standin, SV_RUN, {"STANDIN_NVRTC_TOO_OLD": "1"}) if want_sv else "-"
            with open(os.devnull, "w") as sink:
                stdout, sys.stdout = sys.stdout, sink
                try:
                    main(["configure", "--root", str(root), "--revert"])
                finally:
                    sys.stdout = stdout
            identical = snapshot(root) == before
            ok = (("config.py" in patched) == want_config and ("GPT_SoVITS/sv.py" in patched) == want_sv
                  and identical and config_after == "False" and (config_bare == "False") == want_config
                  and (not want_sv or '"fbank": [{"device": "cpu"' in sv_after))
            failures += not ok
            print(f"{'OK ' if ok else 'BAD'} {label}: generation={generation} patched={sorted(patched)}")
            print(f"    config.is_half: before, with is_half=False in env: {code_before}; after, with the launcher's "
                  f"env {launcher_env}: {config_after}; after, no env: {config_bare}")
            print(f"    sv.py on a GPU whose NVRTC is too old, after: {sv_after}")
            print(f"    revert byte-identical: {identical}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main_check(sys.argv[1]))
