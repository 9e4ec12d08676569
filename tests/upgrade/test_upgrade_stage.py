"""Staging by links must never let a write in the stage reach the original."""

from __future__ import annotations

import os

import upgrade_helpers as h

from envdoctor.upgrade.stage import COPY, HARDLINK, fix_script_paths, must_copy, stage_tree, tree_stamp


def test_must_copy_rules():
    assert must_copy("pyvenv.cfg", False)
    assert must_copy("bin/pip", False) and must_copy("Scripts/pip.exe", False)
    assert must_copy("lib/python3.11/site-packages/torch-2.6.0.dist-info/RECORD", False)
    assert must_copy("Lib/site-packages/distutils-precedence.pth", True)
    assert must_copy("Lib/site-packages/six.py", True)
    assert not must_copy("lib/python3.11/site-packages/torch/lib/libtorch_cuda.so", False)
    assert not must_copy("Lib/site-packages/torch/__pycache__/__init__.cpython-311.pyc", False)


def test_writes_in_the_stage_do_not_reach_the_original(bundle, tmp_path):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    stamp = tree_stamp(runtime)
    stage = str(tmp_path / "stage")
    stats = stage_tree(runtime, stage, HARDLINK)
    assert stats.linked > 0 and stats.files == stats.linked + stats.copied
    assert h.manifest(stage) == before
    # what an install does in place: RECORD/INSTALLER rewrites, .pth edits, script rewrites
    site = [d for d, _s, _f in os.walk(stage) if d.endswith("site-packages")][0]
    info = [d for d in os.listdir(site) if d.startswith("torch-") and d.endswith(".dist-info")][0]
    for name in ("RECORD", "INSTALLER", "METADATA"):
        with open(os.path.join(site, info, name), "a") as handle:
            handle.write("changed\n")
    with open(os.path.join(site, "extra.pth"), "w") as handle:
        handle.write("/nowhere\n")
    for name in os.listdir(os.path.join(stage, "bin")):
        path = os.path.join(stage, "bin", name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "a") as handle:
                handle.write("# changed\n")
    with open(os.path.join(stage, "pyvenv.cfg"), "a") as handle:
        handle.write("changed = yes\n")
    assert h.manifest(runtime) == before
    assert tree_stamp(runtime) == stamp


def test_copy_method_shares_nothing(bundle, tmp_path):
    runtime = os.path.join(bundle, "runtime")
    stats = stage_tree(runtime, str(tmp_path / "stage"), COPY)
    assert stats.linked == 0 and stats.method == COPY
    assert h.manifest(str(tmp_path / "stage")) == h.manifest(runtime)


def test_fix_script_paths_points_scripts_at_the_final_runtime(tmp_path):
    stage = tmp_path / "stage"
    (stage / "bin").mkdir(parents=True)
    script = stage / "bin" / "torchrun"
    script.write_text(f"#!{stage}/bin/python\nimport sys\n")
    os.chmod(script, 0o755)
    (stage / "bin" / "data").write_bytes(b"\x00binary")
    assert fix_script_paths(str(stage), "/final/runtime") == 1
    assert script.read_text().startswith("#!/final/runtime/bin/python\n")
    assert os.access(script, os.X_OK)
