"""Writing GPT-SoVITS files safely: atomic replace, backups of the originals, a manifest for --revert.

State lives in <root>/.envdoctor/configure/: `manifest.json` and `backup/<relative path>` holding each
file exactly as it was before envdoctor first changed it. Every write goes to a temporary file in the
same folder, is fsynced, then replaces the target (os.replace is atomic on one file system), with the
original permission bits. A failure part-way restores the files already written, so a run either
changes everything it planned or nothing.

Applying and reverting hold the bundle's one writer lock (envdoctor/fileio/bundlestate.py): two configure runs,
or a configure and a revert, never interleave (a lost backup would make --revert impossible). The state
folder is never a link, and is never written through one.

A managed file that is a symbolic link is replaced by a regular file when configure writes it (the
link's target, which may be outside the bundle or shared with other installs, is never written);
the manifest records the link, and --revert puts the link itself back, pointing where it pointed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from envdoctor.fileio.atomicfile import atomic_write
from envdoctor.fileio.bundlestate import BundleLock, check_chain, ensure_dir, read_state
from envdoctor.fileio.safeio import remove_stale_temporaries
from envdoctor.gptsovits.layout import BAT, CONFIG_PY, G2PW_PY, PS1, SH, STATE_DIR, SV_PY, TTS_YAML
from envdoctor.gptsovits.textfile import ConfigureError, is_read_only

MANIFEST_SCHEMA = "envdoctor.configure-manifest"
MANIFEST_VERSION = 1
MANAGED_FILES = frozenset({BAT, PS1, SH, CONFIG_PY, SV_PY, G2PW_PY, TTS_YAML})
MAX_STATE_BYTES = 64 * 1024 * 1024  # a manifest or a backed-up config file; far more is not ours


def sha256(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Write:
    """One planned file change. `after` None deletes the file (it was created by envdoctor)."""

    relative: str
    before: Optional[bytes]  # current content, None when the file does not exist
    after: Optional[bytes]
    mode: Optional[int]  # permission bits to keep (None: new file, 0o644 / 0o755 for scripts)
    original: Optional[bytes]  # what --revert must bring back (None: the file did not exist)
    original_mode: Optional[int]


class State:
    """The manifest and backups of one installation."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.folder = os.path.join(root, *STATE_DIR.split("/"))
        self.manifest_path = os.path.join(self.folder, "manifest.json")
        # A linked .envdoctor (or configure/, backup/) would carry backups and --revert's deletes elsewhere.
        check_chain(root, os.path.join(self.folder, "backup"), ConfigureError)
        self.data: Dict[str, Any] = self._load()

    def _load(self) -> Dict[str, Any]:
        if not os.path.lexists(self.manifest_path):
            return {"schema": MANIFEST_SCHEMA, "version": MANIFEST_VERSION, "settings": {}, "files": {}}
        try:  # never through a link, never blocking on a FIFO (state.linked / safety.path.fifo)
            data = json.loads(read_state(self.manifest_path, MAX_STATE_BYTES, ConfigureError).decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigureError("configure.error.manifest", path=self.manifest_path, detail=str(exc)) from exc
        except RecursionError as exc:
            raise ConfigureError("configure.error.manifest", path=self.manifest_path, detail="nested too deeply") \
                from exc
        if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
            raise ConfigureError("configure.error.manifest", path=self.manifest_path, detail="unknown schema")
        files = data.get("files", {})
        settings = data.get("settings", {})
        if not isinstance(files, dict) or not isinstance(settings, dict) \
                or not all(isinstance(v, dict) for v in files.values()):
            raise ConfigureError("configure.error.manifest", path=self.manifest_path, detail="wrong field types")
        # The manifest is a file anyone can edit; --revert writes and deletes the files it names, so
        # only the files configure itself manages may appear (never ../../models/voice.pth).
        strangers = [name for name in files if name not in MANAGED_FILES]
        if strangers:
            raise ConfigureError("configure.error.manifest", path=self.manifest_path,
                                 detail=f"names a file configure never writes: {strangers[0][:100]}")
        return data

    @property
    def files(self) -> Dict[str, Dict[str, Any]]:
        return self.data.setdefault("files", {})

    @property
    def settings(self) -> Dict[str, Any]:
        return self.data.setdefault("settings", {})

    def backup_path(self, relative: str) -> str:
        return os.path.join(self.folder, "backup", *relative.split("/"))

    def original(self, relative: str) -> Tuple[bool, Optional[bytes], Optional[int]]:
        """(managed, original bytes or None if it did not exist, original mode) of a managed file."""
        entry = self.files.get(relative)
        if entry is None:
            return False, None, None
        if not entry.get("existed"):
            return True, None, None
        check_chain(self.root, os.path.dirname(self.backup_path(relative)), ConfigureError)
        try:
            data = read_state(self.backup_path(relative), MAX_STATE_BYTES, ConfigureError)
        except OSError as exc:
            raise ConfigureError("configure.error.manifest", path=self.backup_path(relative), detail=str(exc)) from exc
        if sha256(data) != entry.get("original_sha256"):
            raise ConfigureError("configure.error.manifest", path=self.backup_path(relative),
                                 detail="backup does not match its recorded checksum")
        return True, data, entry.get("mode")

    def written_sha(self, relative: str) -> Optional[str]:
        entry = self.files.get(relative)
        return entry.get("written_sha256") if entry else None


def _preflight(root: str, writes: List[Write], state_folder: str) -> None:
    for write in writes:
        path = os.path.join(root, *write.relative.split("/"))
        if is_read_only(path) or is_read_only(os.path.dirname(path)):
            raise ConfigureError("configure.error.read_only", path=path)
    probe = state_folder
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if is_read_only(probe):
        raise ConfigureError("configure.error.read_only", path=probe)


def clean_temporaries(state: State, relatives: List[str]) -> None:
    """Remove the `.envdoctor-*.tmp` files a killed configure left beside the files it writes and in
    its state folder (an atomic write's temporary: whole or not, never the file itself)."""

    folders = {state.folder, *(os.path.dirname(os.path.join(state.root, *r.split("/"))) for r in relatives)}
    folders |= {os.path.dirname(state.backup_path(r)) for r in relatives}
    for folder in sorted(folders):
        remove_stale_temporaries(folder, min_age_s=STALE_TEMPORARY_S)


STALE_TEMPORARY_S = 30.0  # a write finishes in milliseconds; younger ones may be another run's


def link_of(path: str) -> Optional[str]:
    """Where the symbolic link `path` points, or None when it is not a link."""
    try:
        return os.readlink(path) if os.path.islink(path) else None
    except OSError:
        return None


def put_link(path: str, target: str) -> None:
    """Make `path` the symbolic link to `target`, atomically (a temporary link renamed over the name)."""
    temporary = os.path.join(os.path.dirname(path), f".envdoctor-{os.getpid()}-{os.path.basename(path)}.tmp")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(target, temporary)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def apply(root: str, writes: List[Write], settings: Dict[str, Any]) -> None:
    """Back up, record, then write; on any failure put every touched file back and re-raise."""
    with BundleLock(root, ConfigureError):
        _apply(root, writes, settings)


def _apply(root: str, writes: List[Write], settings: Dict[str, Any]) -> None:
    state = State(root)
    clean_temporaries(state, sorted(MANAGED_FILES))
    _preflight(root, writes, state.folder)
    old_manifest = json.dumps(state.data)
    created_state = not os.path.exists(state.folder)
    links = {w.relative: link_of(os.path.join(root, *w.relative.split("/"))) for w in writes}
    done: List[Write] = []
    try:
        for write in writes:
            entry = state.files.get(write.relative)
            if write.after == write.original:
                state.files.pop(write.relative, None)  # back to its original: no longer envdoctor's
                continue
            if entry is None or sha256(write.before) != entry.get("written_sha256"):
                # First change, or the file changed since envdoctor wrote it: this is the state to return to.
                if write.original is not None:
                    ensure_dir(root, os.path.dirname(state.backup_path(write.relative)), ConfigureError)
                    atomic_write(state.backup_path(write.relative), write.original, 0o600)
                entry = {"existed": write.original is not None, "mode": write.original_mode,
                         "original_sha256": sha256(write.original)}
                if links.get(write.relative) is not None and write.before == write.original:
                    entry["link"] = links[write.relative]  # --revert puts the link back, not a copy
            entry["written_sha256"] = sha256(write.after)
            state.files[write.relative] = entry
        state.data["settings"] = settings
        _save(state)
        for write in writes:
            path = os.path.join(root, *write.relative.split("/"))
            if write.after is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                atomic_write(path, write.after, write.mode if write.mode is not None else 0o644)
            done.append(write)
        _prune(state)
    except BaseException as exc:
        _undo(root, done, links)
        if created_state:
            shutil.rmtree(state.folder, ignore_errors=True)
            _remove_empty_parent(state.folder)
        else:
            try:
                atomic_write(state.manifest_path, old_manifest.encode("utf-8"), None)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise ConfigureError("configure.error.write_failed", path=getattr(exc, "filename", "") or root,
                                 detail=str(exc)) from exc
        raise


def _undo(root: str, done: List[Write], links: Dict[str, Optional[str]]) -> None:
    for write in reversed(done):
        path = os.path.join(root, *write.relative.split("/"))
        try:
            if links.get(write.relative) is not None:
                put_link(path, links[write.relative] or "")
            elif write.before is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                atomic_write(path, write.before, write.mode)
        except OSError:
            pass  # keep undoing the others; the backup folder still holds the originals


def _save(state: State) -> None:
    ensure_dir(state.root, state.folder, ConfigureError)
    text = json.dumps(state.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(state.manifest_path, text.encode("utf-8"), None)


def _prune(state: State) -> None:
    """Drop backups of files no longer managed; drop the whole state when nothing is managed."""
    if not state.files:
        shutil.rmtree(state.folder, ignore_errors=True)
        _remove_empty_parent(state.folder)
        return
    backup_root = os.path.join(state.folder, "backup")
    for folder, _dirs, names in os.walk(backup_root):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, backup_root).replace(os.sep, "/")
            if relative not in state.files:
                os.unlink(path)


def _remove_empty_parent(folder: str) -> None:
    parent = os.path.dirname(folder)  # <root>/.envdoctor, shared with other envdoctor features
    try:
        os.rmdir(parent)
    except OSError:
        pass


@dataclass(frozen=True)
class RevertResult:
    restored: Tuple[str, ...]
    deleted: Tuple[str, ...]
    drifted: Tuple[str, ...]


def revert(root: str, force: bool = False, dry_run: bool = False) -> RevertResult:
    """Bring every managed file back to its original bytes and mode (a link back as the link); remove the state."""
    if dry_run:
        return _revert(root, force, dry_run)
    with BundleLock(root, ConfigureError):
        return _revert(root, force, dry_run)


def _revert(root: str, force: bool, dry_run: bool) -> RevertResult:
    state = State(root)
    if not dry_run:
        clean_temporaries(state, sorted(MANAGED_FILES))
    plan: List[Tuple[str, str, Optional[bytes], Optional[int], Optional[str]]] = []
    drifted: List[str] = []
    for relative, entry in sorted(state.files.items()):
        path = os.path.join(root, *relative.split("/"))
        current = None
        if os.path.exists(path):
            with open(path, "rb") as handle:
                current = handle.read()
        if sha256(current) not in (entry.get("written_sha256"), entry.get("original_sha256")):
            drifted.append(relative)
        _managed, original, mode = state.original(relative)
        link = entry.get("link")
        link = link if isinstance(link, str) and link and "\0" not in link and len(link) < 4096 else None
        plan.append((relative, path, original, mode, link))
    if drifted and not force:
        raise ConfigureError("configure.error.revert_drift", files=", ".join(drifted))
    restored: List[str] = []
    deleted: List[str] = []
    for relative, path, original, _mode, _link in plan:
        if original is None:
            if os.path.lexists(path):  # a file envdoctor made and that is still there
                deleted.append(relative)
        else:
            restored.append(relative)
    if dry_run:
        return RevertResult(tuple(restored), tuple(deleted), tuple(drifted))
    for _relative, path, original, _mode, _link in plan:
        if (original is not None and is_read_only(path)) or is_read_only(os.path.dirname(path)):
            raise ConfigureError("configure.error.read_only", path=path)
    for _relative, path, original, mode, link in plan:
        if original is None:
            if os.path.lexists(path):
                os.unlink(path)
        elif link is not None:
            try:
                put_link(path, link)
            except OSError:  # no right to make links (Windows without developer mode): the bytes at least
                atomic_write(path, original, mode)
        else:
            atomic_write(path, original, mode)
    shutil.rmtree(state.folder, ignore_errors=True)
    _remove_empty_parent(state.folder)
    return RevertResult(tuple(restored), tuple(deleted), tuple(drifted))
