# -*- coding: utf-8 -*-
"""envdoctor.pyz start-up (build_pyz.py stores this file as the zip's __main__.py).

1. On a Python older than 3.9 it says so, in English and Chinese, and exits 3 ("could not check":
   a launcher starts the WebUI anyway). This is the only code such an interpreter reads, so this file
   must stay parseable by Python 2.7 and 3.6: no f-strings, no annotations, no walrus, nothing new.
2. On 3.9+ it runs envdoctor from a folder unpacked once into the user's cache, named by the zip's
   content hash, where Python keeps its ordinary __pycache__: a check then imports compiled modules
   from plain files, as an installed envdoctor does, instead of compiling every module from source
   out of the zip on every start. Everything is compiled at unpack time rather than on first import,
   because an interpreter run with PYTHONDONTWRITEBYTECODE (or -B) would never write the .pyc files.
   The folder is filled under a temporary name and renamed into place,
   so processes starting at the same time never see half a folder; the loser of the race throws its
   copy away. Where the cache cannot be written, envdoctor runs from the zip itself (slower, same answer).
3. The cache does not grow with every new envdoctor.pyz: each start marks its copy as used (at most once
   a day), and a new unpack removes the copies of other builds that no start has used for STALE_DAYS,
   and unpacks abandoned more than a day ago (a crash or a full disk half way).
"""
import sys

BUILD_ID = "@BUILD_ID@"  # build_pyz.py writes the payload's sha256 here
COMPLETE_MARKER = "envdoctor-pyz-complete"
COULD_NOT_CHECK = 3


def refuse_old_python():
    found = ".".join(str(part) for part in sys.version_info[:3])
    sys.stderr.write(
        "envdoctor needs Python 3.9 or newer; this interpreter is Python " + found + " (" + str(sys.executable)
        + ").\nRun envdoctor.pyz with a newer Python, e.g. the GPT-SoVITS bundle's runtime\\python.exe.\n"
    )
    sys.stderr.write(
        "envdoctor 需要 Python 3.9 或更高版本；当前解释器是 Python " + found
        + "。\n请用更新的 Python 运行 envdoctor.pyz，例如整合包自带的 runtime\\python.exe。\n"
    )
    sys.stderr.flush()
    sys.exit(COULD_NOT_CHECK)


if sys.version_info < (3, 9):
    refuse_old_python()

import os  # noqa: E402  (after the version check, on purpose: see above)
import re  # noqa: E402

NOT_COMPILED = re.compile(r"[\\/](pygments|markdown_it|mdurl)[\\/]")
DAY = 24 * 60 * 60
STALE_DAYS = 30
# Only these names under <cache>/pyz are ever removed: a build's copy (its sha256) or an unpack in progress.
PRUNABLE = re.compile(r"^([0-9a-f]{64}|\.unpack-[0-9a-f]{12}-.+)$")


def cache_root(environ):
    """The same folder as envdoctor.paths.cache_dir() (which cannot be imported before sys.path is set)."""
    override = environ.get("ENVDOCTOR_CACHE_DIR")
    if override:
        return override
    if sys.platform == "win32":
        return os.path.join(environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local"),
                            "envdoctor", "cache")
    return os.path.join(environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "envdoctor")


def unpacked_folder(archive, build_id, cache):
    """The folder holding this zip's files with bytecode compiled, made once; None where impossible."""
    final = os.path.join(cache, "pyz", build_id)
    if mark_used(os.path.join(final, COMPLETE_MARKER)):
        return final
    import compileall
    import shutil
    import tempfile
    import zipfile

    parent = os.path.dirname(final)
    work = None
    try:
        os.makedirs(parent, exist_ok=True)
        if sys.stderr is not None and sys.stderr.isatty():
            sys.stderr.write("envdoctor: first start of this envdoctor.pyz, preparing it (once)... / "
                             "首次运行，正在准备（仅此一次）……\n")
            sys.stderr.flush()
        work = tempfile.mkdtemp(prefix=".unpack-" + build_id[:12] + "-", dir=parent)
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(work, [name for name in bundle.namelist() if name != "__main__.py"])
        # One process (workers=1): a process pool would re-run this __main__ on Windows. A module that
        # does not compile (written for another Python) is only left to compile on import; so are the
        # packages envdoctor never imports (rich's syntax highlighting and Markdown: half the time).
        compileall.compile_dir(work, quiet=2, ddir=final, workers=1, rx=NOT_COMPILED)
        with open(os.path.join(work, COMPLETE_MARKER), "w") as marker:
            marker.write(build_id + "\n")
        try:
            os.rename(work, final)
            work = None
        except OSError:
            pass  # another start renamed its copy first (or left a broken one: checked below)
        else:
            prune_stale(parent, build_id)
    except (OSError, ValueError, EOFError, RuntimeError):  # a full disk, a read-only cache, a damaged zip
        return None
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return final if os.path.isfile(os.path.join(final, COMPLETE_MARKER)) else None


def mark_used(marker):
    """Whether this build's copy is complete; if so, its marker's time says it was used today (the write
    happens at most once a day, so an ordinary start only reads)."""
    import time

    try:
        if time.time() - os.stat(marker).st_mtime > DAY:
            os.utime(marker, None)
        return True
    except OSError:  # no copy yet, or a read-only cache (then the copy is used as it is)
        return os.path.isfile(marker)


def prune_stale(parent, keep):
    """Remove other builds' copies unused for STALE_DAYS and unpacks abandoned for a day. Never raises:
    a copy another process still has open (Windows) is simply left for a later prune."""
    import shutil
    import time

    now = time.time()
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if name == keep or not PRUNABLE.match(name):
            continue
        path = os.path.join(parent, name)
        unpacking = name.startswith(".unpack-")
        try:
            age = now - os.stat(path if unpacking else os.path.join(path, COMPLETE_MARKER)).st_mtime
        except OSError:
            continue  # a folder without the marker was not finished by this bootstrap: left alone
        if age > (DAY if unpacking else STALE_DAYS * DAY):
            shutil.rmtree(path, ignore_errors=True)


def archive_path():
    loader = globals().get("__loader__")
    archive = getattr(loader, "archive", None) or (sys.argv[0] if sys.argv else "")
    return os.path.abspath(archive) if archive else ""


def start():
    archive = archive_path()
    folder = None
    if archive and BUILD_ID != "@" + "BUILD_ID@" and not os.environ.get("ENVDOCTOR_PYZ_IN_ZIP"):
        folder = unpacked_folder(archive, BUILD_ID, cache_root(os.environ))
    if folder is not None:
        # Everything comes from the folder; the zip stays off the path so no module is read twice.
        sys.path[:] = [folder] + [entry for entry in sys.path if os.path.abspath(entry or ".") != archive]
    import envdoctor

    envdoctor.PYZ_ARCHIVE = archive or None  # the replay stamps this one file as envdoctor's own code
    from envdoctor.cli.main import main

    sys.exit(main())


start()
