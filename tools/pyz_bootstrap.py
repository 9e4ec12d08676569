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
4. Code is run from the cache only when nobody else can have put it there: the unpacked files are
   checked against the archive's own hash (BUILD_ID, sha256 over every file, see build_pyz.payload_id)
   before the folder is renamed into place, and on POSIX every start checks that the cache folder, its
   pyz/ folder and the copy belong to this user and that nobody else can write them (the copy is made
   mode 0700, so nothing in it was ever reachable by another user). A shared cache (an admin's
   ENVDOCTOR_CACHE_DIR for several users, a world-writable folder) falls back to a private folder in
   the temporary folder, or to running from the zip itself. Three lstat calls: start-up keeps its speed.
   On Windows, where os.stat names no owner, a cache named by ENVDOCTOR_CACHE_DIR (possibly shared) is
   not run from; the user's own LOCALAPPDATA is private by its ACL.
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
    """The same folder as envdoctor.fileio.paths.cache_dir() (which cannot be imported before sys.path is set)."""
    override = environ.get("ENVDOCTOR_CACHE_DIR")
    if override:
        return override
    if sys.platform == "win32":
        return os.path.join(environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local"),
                            "envdoctor", "cache")
    return os.path.join(environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "envdoctor")


def untrusted(path, private=False):
    """None when the folder at path (not followed if a link) is this user's alone, or does not exist; else
    why not. private: nobody else may even read it (mode 0700: the unpacked copy)."""
    if not hasattr(os, "geteuid"):
        return None  # Windows: see 4. above (start() decides)
    import stat

    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return "not a folder"
    if st.st_uid != os.geteuid():
        return "owned by another user"
    if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != os.getegid()):
        return "writable by other users"
    if private and st.st_mode & 0o077:
        return "readable by other users"
    return None


def trusted_cache(cache):
    """The cache folder to unpack into: this one if it is the user's alone, else a private one; None if none."""
    if untrusted(cache) is None:
        return cache
    if not hasattr(os, "geteuid"):
        return None
    import tempfile

    private = os.path.join(tempfile.gettempdir(), "envdoctor-cache-" + str(os.geteuid()))
    try:
        os.mkdir(private, 0o700)
    except OSError:
        pass
    return private if os.path.isdir(private) and untrusted(private) is None else None


def payload_digest(folder, bootstrap):
    """build_pyz.payload_id recomputed over the unpacked files: sha256 of the bootstrap (as stored before
    the build id was written in) and of every file's relative path and bytes, in path order."""
    import hashlib

    digest = hashlib.sha256(bootstrap)
    files = []
    for current, _dirs, names in os.walk(folder):
        for name in names:
            full = os.path.join(current, name)
            files.append((os.path.relpath(full, folder).replace(os.sep, "/"), full))
    for relative, full in sorted(files):
        digest.update(relative.encode("utf-8") + b"\0")
        with open(full, "rb") as handle:
            digest.update(handle.read() + b"\0")
    return digest.hexdigest()


def unpacked_folder(archive, build_id, cache):
    """The folder holding this zip's files with bytecode compiled, made once; None where impossible."""
    cache = trusted_cache(cache)
    if cache is None:
        return None
    final = os.path.join(cache, "pyz", build_id)
    if untrusted(os.path.dirname(final)) or untrusted(final, private=True):
        return None  # planted, or opened up to others: never run from it (the zip itself serves)
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
        if untrusted(parent):
            return None
        work = tempfile.mkdtemp(prefix=".unpack-" + build_id[:12] + "-", dir=parent)  # mode 0700
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(work, [name for name in bundle.namelist() if name != "__main__.py"])
            stored = bundle.read("__main__.py").replace(
                ('BUILD_ID = "' + build_id + '"').encode("ascii"), b'BUILD_ID = "@BUILD_ID@"', 1)
        if payload_digest(work, stored) != build_id:
            return None  # not the files this archive was built from (the finally removes them)
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
    if untrusted(final, private=True):
        return None
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
    shared_on_windows = sys.platform == "win32" and os.environ.get("ENVDOCTOR_CACHE_DIR")  # see 4. above
    if archive and BUILD_ID != "@" + "BUILD_ID@" and not os.environ.get("ENVDOCTOR_PYZ_IN_ZIP") \
            and not shared_on_windows:
        folder = unpacked_folder(archive, BUILD_ID, cache_root(os.environ))
    if folder is not None:
        # Everything comes from the folder; the zip stays off the path so no module is read twice.
        sys.path[:] = [folder] + [entry for entry in sys.path if os.path.abspath(entry or ".") != archive]
    import envdoctor

    envdoctor.PYZ_ARCHIVE = archive or None  # the replay stamps this one file as envdoctor's own code
    from envdoctor.cli.main import main

    sys.exit(main())


start()
