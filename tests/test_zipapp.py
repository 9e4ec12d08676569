"""The single-file zipapp: built offline from the installed packages, run by a plain interpreter
(`runtime\\python.exe envdoctor.pyz check` in a bundle). Its bootstrap unpacks it once into the cache
(bytecode compiled, safe against concurrent first starts), falls back to running from the zip, and
tells an interpreter older than 3.9 so in plain words."""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path
from typing import List, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pyz") / "envdoctor.pyz"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_pyz.py"), "--from-installed", "-o", str(output)],
                   check=True, capture_output=True)
    return output


BOOTSTRAP = REPO / "tools" / "pyz_bootstrap.py"
OLD_PYTHONS = ("2.7", "3.6", "3.7", "3.8")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the tests that are not about unpacking (each unpack compiles the whole payload)."""
    return tmp_path_factory.mktemp("pyz-cache")


def _run(pyz: Path, tmp_path: Path, *args: str, cache: Optional[Path] = None,
         python: Optional[str] = None, flags: tuple = ()) -> subprocess.CompletedProcess:
    # -I: no PYTHONPATH, no user site, the script's own folder only: everything must come from the zip.
    env = dict(os.environ, ENVDOCTOR_CACHE_DIR=str(cache or tmp_path / "cache"))
    # (Python 2.7 has no -I; an old interpreter gets none.)
    isolated = ("-I",) if python is None else ()
    return subprocess.run([python or sys.executable, *isolated, *flags, str(pyz), *args], capture_output=True,
                          text=True, encoding="utf-8", errors="replace", env=env, cwd=str(tmp_path), timeout=300)


def _build_id(pyz: Path) -> str:
    with zipfile.ZipFile(pyz) as archive:
        main = archive.read("__main__.py").decode("utf-8")
    return main.split('BUILD_ID = "', 1)[1].split('"', 1)[0]


def test_zipapp_runs_the_demo_check(pyz: Path, tmp_path: Path, shared_cache: Path) -> None:
    result = _run(pyz, tmp_path, "check", "--demo", "--json", cache=shared_cache)
    assert result.returncode == 2, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["matrix"] == "envdoctor/matrices"  # read from inside the zip
    assert {"nvrtc-too-old", "fp16-attention-abort-risk"} <= {f["code"] for f in envelope["findings"]}


def test_zipapp_speaks_chinese_and_scans(pyz: Path, tmp_path: Path, shared_cache: Path) -> None:
    result = _run(pyz, tmp_path, "check", "--demo", "rtx5060ti-cu128", "--lang", "zh_CN", cache=shared_cache)
    assert result.returncode == 0 and "就绪" in result.stdout, result.stderr
    scan = _run(pyz, tmp_path, "scan", str(REPO / "tests" / "fixtures" / "fatbin" / "sm75.so"), "--cc", "9.0", "--json",
                cache=shared_cache)
    assert scan.returncode == 2 and json.loads(scan.stdout)["binaries"][0]["sass"] == {"sm_75": 2}


def test_zipapp_holds_no_compiled_code(pyz: Path) -> None:
    import zipfile

    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll"))]
    assert "envdoctor/matrices/torch.yaml" in names and "__main__.py" in names


def test_zipapp_runs_from_its_unpacked_copy_with_bytecode(pyz: Path, tmp_path: Path, shared_cache: Path) -> None:
    _run(pyz, tmp_path, "check", "--demo", "--json", cache=shared_cache)  # unpacks, if no test did yet
    folder = shared_cache / "pyz" / _build_id(pyz)
    verbose = _run(pyz, tmp_path, "check", "--demo", cache=shared_cache, flags=("-v",))
    assert verbose.returncode == 2, verbose.stderr[-2000:]
    # -v names the .pyc each module's code came from: envdoctor's and rich's come from the folder's
    # __pycache__ (even though this machine sets PYTHONDONTWRITEBYTECODE), none from the zip.
    loaded = [line for line in verbose.stderr.splitlines() if line.startswith("# code object from")]
    assert any(str(folder / "envdoctor" / "cli" / "__pycache__") in line for line in loaded), loaded[-5:]
    assert any(str(folder / "rich" / "__pycache__") in line for line in loaded)
    assert not [line for line in loaded if str(pyz) in line and "__main__" not in line]


@pytest.mark.slow
def test_concurrent_first_starts_share_one_unpacked_copy(pyz: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = dict(os.environ, ENVDOCTOR_CACHE_DIR=str(cache))
    starts = [subprocess.Popen([sys.executable, "-I", str(pyz), "check", "--demo", "--json"], env=env,
                               cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [(start.wait(timeout=300), start.stdout.read(), start.stderr.read()) for start in starts]
    for start in starts:
        start.stdout.close()
        start.stderr.close()
    for code, stdout, stderr in results:
        assert code == 2, stderr.decode()[-2000:]
        assert json.loads(stdout)["verdict"] == "will-fail"
    assert sorted(os.listdir(cache / "pyz")) == [_build_id(pyz)]  # no half-made copy left behind
    assert (cache / "pyz" / _build_id(pyz) / "envdoctor-pyz-complete").is_file()


def _aged(path: Path, days: float) -> None:
    stamp = os.path.getmtime(path) - days * 24 * 3600
    os.utime(path, (stamp, stamp))


def test_a_new_build_prunes_copies_nobody_used_for_a_month(pyz: Path, tmp_path: Path) -> None:
    """Each new envdoctor.pyz unpacks a copy of its own; the cache must not keep them all. What is left
    alone: a copy used lately, a folder without the completion marker, anything not named like ours."""
    pyz_dir = tmp_path / "cache" / "pyz"

    def copy(name: str, days: float, complete: bool = True) -> Path:
        folder = pyz_dir / name
        (folder / "envdoctor").mkdir(parents=True)
        if complete:
            (folder / "envdoctor-pyz-complete").write_text(name + "\n")
            _aged(folder / "envdoctor-pyz-complete", days)
        return folder

    stale = copy("a" * 64, 45)
    recent = copy("b" * 64, 3)
    unfinished = copy("c" * 64, 45, complete=False)
    foreign = copy("my-notes", 45)
    abandoned = pyz_dir / ".unpack-dddddddddddd-x1"
    abandoned.mkdir()
    _aged(abandoned, 2)
    in_progress = pyz_dir / ".unpack-eeeeeeeeeeee-x2"
    in_progress.mkdir()
    result = _run(pyz, tmp_path, "check", "--demo", "--json")
    assert result.returncode == 2, result.stderr[-2000:]
    assert sorted(os.listdir(pyz_dir)) == sorted(
        [_build_id(pyz), recent.name, unfinished.name, foreign.name, in_progress.name])
    assert not stale.exists() and not abandoned.exists()


def test_a_start_marks_its_copy_used_at_most_once_a_day(pyz: Path, tmp_path: Path) -> None:
    assert _run(pyz, tmp_path, "check", "--demo", "--json").returncode == 2  # unpacks
    marker = tmp_path / "cache" / "pyz" / _build_id(pyz) / "envdoctor-pyz-complete"
    _aged(marker, 0.5)
    half_a_day_ago = os.path.getmtime(marker)
    assert _run(pyz, tmp_path, "check", "--demo", "--json").returncode == 2
    assert os.path.getmtime(marker) == half_a_day_ago  # an ordinary start only reads
    _aged(marker, 40)
    assert _run(pyz, tmp_path, "check", "--demo", "--json").returncode == 2
    assert os.path.getmtime(marker) > half_a_day_ago  # used today: safe from another build's prune


def test_zipapp_runs_from_the_zip_where_the_cache_cannot_be_written(pyz: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    result = _run(pyz, tmp_path, "check", "--demo", "--json", cache=blocker / "cache")
    assert result.returncode == 2, result.stderr[-2000:]
    assert json.loads(result.stdout)["verdict"] == "will-fail"


def _old_python(version: str) -> Optional[str]:
    """An installed Python `version` (pyenv's own folders first: its shims may name one not selected)."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(glob.glob(os.path.join(pyenv, "versions", f"{version}.*", "bin", "python")))
    if candidates:
        return candidates[-1]
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    return None


@pytest.mark.parametrize("version", OLD_PYTHONS)
def test_an_old_python_is_told_to_use_39_or_newer(pyz: Path, tmp_path: Path, version: str) -> None:
    python = _old_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (the bootstrap's syntax is checked by the next test)")
    result = _run(pyz, tmp_path, "check", "--demo", python=python)
    assert result.returncode == 3, result.stderr
    assert "envdoctor needs Python 3.9 or newer" in result.stderr and f"Python {version}." in result.stderr
    assert "需要 Python 3.9 或更高版本" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "cache").exists()  # nothing unpacked for an interpreter that cannot run it


def _old_syntax_problems(source: str) -> List[str]:
    """Constructs Python 2.7 or 3.6 cannot parse, found by tokens (no old interpreter needed)."""
    problems = []
    depth_in_def = None
    depth = 0
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.string[:2].lower().lstrip("rb").startswith("f"):
            problems.append(f"f-string at line {token.start[0]}")
        if token.type == tokenize.NAME and token.string in ("nonlocal", "async", "await"):
            problems.append(f"{token.string} at line {token.start[0]}")
        if token.type == tokenize.NAME and previous == "from" and token.string == "__future__":
            problems.append(f"__future__ import at line {token.start[0]}")
        if token.type == tokenize.OP:
            if token.string in (":=", "->", "@="):
                problems.append(f"{token.string} at line {token.start[0]}")
            if token.string == "(":
                depth += 1
                if previous == "def_name":
                    depth_in_def = depth
            elif token.string == ")":
                if depth == depth_in_def:
                    depth_in_def = None
                depth -= 1
            elif token.string == ":" and depth_in_def == depth:
                problems.append(f"annotation at line {token.start[0]}")
            elif token.string == "*" and previous in ("(", ",") and depth_in_def == depth:
                pass  # *args is fine; a bare `*,` (keyword-only) is caught below
            elif token.string == "," and previous == "*":
                problems.append(f"keyword-only marker at line {token.start[0]}")
        if token.type == tokenize.NAME and previous == "def":
            previous = "def_name"
            continue
        previous = token.string if token.type in (tokenize.NAME, tokenize.OP) else previous
    return problems


def test_the_bootstrap_parses_on_old_pythons() -> None:
    source = BOOTSTRAP.read_text(encoding="utf-8")
    assert _old_syntax_problems(source) == []
    assert _old_syntax_problems("def f(x: int) -> None:\n    return f'{x}'\n")  # the checker does catch them
    assert source.splitlines()[0] == "# -*- coding: utf-8 -*-"  # Python 2 reads non-ASCII only with it
    for version in OLD_PYTHONS:
        python = _old_python(version)
        if python is not None:
            compiled = subprocess.run([python, "-c", "import sys; compile(open(sys.argv[1], 'rb').read(), "
                                       "sys.argv[1], 'exec')", str(BOOTSTRAP)], capture_output=True, text=True)
            assert compiled.returncode == 0, (version, compiled.stderr)
