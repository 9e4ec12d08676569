"""Putting one tree in place of another with renames only, journaled, resumable from any state.

A swap has two trees, each named by its identity (st_dev, st_ino; renames keep it): `incoming` (the
candidate, or on rollback the backup) and `outgoing` (the current runtime). There are three slots:
the runtime path R, the incoming's starting path I and the outgoing's parking path O.
  forward:  incoming -> R, outgoing -> O
  reverse:  outgoing -> R, incoming -> I   (what was there before the swap began)
`drive` looks where each tree is now and makes the next rename toward the goal until it is reached,
so the same code runs the swap, finishes an interrupted one and undoes one. R is filled first and,
where the OS can, by an atomic exchange, so R is never empty; with two plain renames R is empty only
between them, and `recover` fills it.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from envdoctor.process.relaunch import original, release_original
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.fsutil import Identity, can_exchange, exchange_durable, fsync_dir, identity, rename_durable
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import inside

FORWARD = "forward"
REVERSE = "reverse"


@dataclass(frozen=True)
class SwapSpec:
    runtime: str
    incoming: str
    incoming_id: Identity
    parking: str
    outgoing_id: Identity

    def to_record(self) -> dict:
        return {"runtime": self.runtime, "incoming": self.incoming, "incoming_id": list(self.incoming_id),
                "parking": self.parking, "outgoing_id": list(self.outgoing_id)}

    @classmethod
    def from_record(cls, record: dict) -> SwapSpec:
        def path(name: str) -> str:
            value = record.get(name)
            if not isinstance(value, str) or not value or "\0" in value:
                raise UpgradeError("safety.bad_record", field=name, txid=str(record.get("tx", "?"))[:80])
            return value

        def ident(name: str) -> Identity:
            value = record.get(name)
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
                raise UpgradeError("safety.bad_record", field=name, txid=str(record.get("tx", "?"))[:80])
            return (value[0], value[1])

        return cls(path("runtime"), path("incoming"), ident("incoming_id"), path("parking"), ident("outgoing_id"))

    def check_within(self, runtime: str, state_dir: str) -> SwapSpec:
        """A spec read back from the journal may only move the runtime itself and trees inside the
        tool's state folder; anything else is a tampered record, refused before any rename."""
        # The runtime may be named otherwise than runtime/ (layout_for_runtime), but it is a folder
        # of the bundle's root, never the state folder's own parent chain.
        root = os.path.dirname(os.path.abspath(runtime))
        if (os.path.dirname(os.path.abspath(self.runtime)) != root
                or os.path.basename(self.runtime) in ("", ".", "..", ".envdoctor")):
            raise UpgradeError("safety.outside", path=self.runtime, folder=root)
        for path in (self.incoming, self.parking):
            if not inside(path, state_dir) or os.path.abspath(path) == os.path.abspath(state_dir):
                raise UpgradeError("safety.outside", path=path, folder=state_dir)
        return self


def locate(spec: SwapSpec) -> Dict[str, Optional[str]]:
    """Which slot each tree is in now (None: in none of them)."""
    where: Dict[str, Optional[str]] = {"incoming": None, "outgoing": None}
    for slot in (spec.runtime, spec.incoming, spec.parking):
        ident = identity(slot)
        if ident is None:
            continue
        if ident == spec.incoming_id:
            where["incoming"] = slot
        elif ident == spec.outgoing_id:
            where["outgoing"] = slot
    return where


def goal_of(spec: SwapSpec, direction: str) -> Dict[str, str]:
    if direction == FORWARD:
        return {"incoming": spec.runtime, "outgoing": spec.parking}
    return {"incoming": spec.incoming, "outgoing": spec.runtime}


def next_move(spec: SwapSpec, direction: str, where: Dict[str, Optional[str]],
              exchange: bool) -> Optional[Tuple[str, str, str]]:
    """(op, a, b) with op "rename" (a -> b) or "exchange" (a <-> b); None when at the goal."""
    goal = goal_of(spec, direction)
    if where == goal:
        return None
    slots = (spec.runtime, spec.incoming, spec.parking)
    occupied = {path: name for name, path in where.items() if path is not None}
    want_r = "incoming" if goal["incoming"] == spec.runtime else "outgoing"
    other = "outgoing" if want_r == "incoming" else "incoming"
    if where[want_r] != spec.runtime:
        if occupied.get(spec.runtime) == other:
            if exchange:
                return ("exchange", spec.runtime, where[want_r])  # type: ignore[return-value]
            free = next(s for s in slots if s not in occupied)
            return ("rename", spec.runtime, free)
        return ("rename", where[want_r], spec.runtime)  # type: ignore[return-value]
    return ("rename", where[other], goal[other])  # type: ignore[return-value]


def drive(spec: SwapSpec, direction: str, journal: Journal, txid: str, exchange: bool) -> None:
    release_original()  # relaunched from runtime\python.exe: that process must be gone before a rename
    if sys.platform == "win32":
        from envdoctor.upgrade.windows import programs_in  # Windows only (Win32 process list)

        holders = programs_in(spec.runtime)  # Windows refuses the rename while any runs from it (Wine does not)
        if holders:
            raise UpgradeError("upgrade.error.in_use", path=spec.runtime, processes="; ".join(holders[:5]))
    for _ in range(6):
        where = locate(spec)
        missing = [name for name, path in where.items() if path is None]
        if missing:
            raise UpgradeError("upgrade.error.tree_missing", which=missing[0], runtime=spec.runtime)
        move = next_move(spec, direction, where, exchange)
        if move is None:
            return
        op, a, b = move
        try:
            journal.append(txid, "move", op=op, src=a, dst=b, direction=direction)
        except OSError as exc:
            # A full disk: the "move" record only narrates (recovery finds each tree by its identity, named
            # in "swap-begin"), so the rename goes on; a runtime in place matters more (issue 28).
            if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                raise
        try:
            if op == "exchange":
                exchange_durable(a, b)
            else:
                rename_durable(a, b)
        except OSError as exc:
            if sys.platform == "win32" or getattr(exc, "winerror", None):
                raise UpgradeError("upgrade.error.in_use_rename", path=a, detail=str(exc)) from exc
            raise UpgradeError("upgrade.error.rename_failed", src=a, dst=b, detail=str(exc)) from exc
    raise UpgradeError("upgrade.error.tree_missing", which="?", runtime=spec.runtime)


def swap_in(spec: SwapSpec, journal: Journal, txid: str) -> bool:
    """Journal the swap ("swap-begin" names both trees, so `recover` can finish or undo it from any
    state), then drive it forward. True when it was done by an atomic exchange."""
    exchange = can_exchange(spec.runtime, spec.incoming)
    journal.append(txid, "swap-begin", exchange=exchange, **spec.to_record())
    drive(spec, FORWARD, journal, txid, exchange)
    return exchange


def processes_using(path: str) -> List[str]:
    """Processes whose program or loaded libraries live under `path` (Linux /proc; [] elsewhere).

    On Windows the processes are listed through the Win32 API (the WebUI's python.exe, by image
    path); a rename of a folder with open files also fails there, which `drive` reports as "in use"."""
    if sys.platform == "win32":
        from envdoctor.upgrade.windows import processes_using_runtime  # Windows only (Win32 process list)

        return processes_using_runtime(path)
    if not os.path.isdir("/proc"):
        return []
    bases = tuple({os.path.realpath(path) + os.sep, os.path.abspath(path) + os.sep})
    ours = envdoctor_pids()
    users = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in ours:
            continue
        try:
            hit = _uses(entry, bases)
        except OSError:
            continue  # gone, or not ours to read
        if hit:
            users.append(f"{entry} ({hit})")
    return users


def envdoctor_pids() -> set:
    """This process, and the envdoctor that started it (`fix` runs `upgrade` as a child and says so in
    ENVDOCTOR_PARENT_PID): not users of the runtime, though both may run from its own interpreter."""
    ours = {os.getpid()}
    if os.environ.get("ENVDOCTOR_PARENT_PID") == str(os.getppid()):
        ours.add(os.getppid())
    relaunched_from = original()  # runtime\python.exe that started this copy; it leaves before the swap
    if relaunched_from is not None:
        ours.add(relaunched_from)
    return ours


def _uses(pid: str, bases: Tuple[str, ...]) -> Optional[str]:
    # A venv's bin/python is a symlink, so /proc/PID/exe names the base interpreter: look at argv[0] too.
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        argv0 = handle.read().split(b"\0", 1)[0].decode("utf-8", "replace")
    if os.sep in argv0:  # a bare name was found on PATH, not relative to cwd
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = "/"
        full = os.path.abspath(os.path.join(cwd, argv0))
        if full.startswith(bases):
            return full
    exe = os.readlink(f"/proc/{pid}/exe")
    if exe.startswith(bases):
        return exe
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith(bases):
                return parts[5].strip()
    return None


def pin_link(path: str) -> Optional[str]:
    """A runtime that is a relative link (`runtime -> ../rt`) is moved as a link by the swap, and once
    in tx-<id>/backup its relative text names nothing (issue 28). Before the swap such a link is replaced
    (atomically) by one naming the same folder by its absolute path, so the kept link still leads to
    the runtime it replaced and `rollback` can bring it back. Returns the link's former text (None when
    `path` is no relative link); the folder it names is never touched."""
    try:
        text = os.readlink(path)
    except OSError:
        return None
    if os.path.isabs(text):
        return None
    _replace_link(path, os.path.realpath(path))
    return text


def unpin_link(path: str, text: str) -> bool:
    """After a rollback brought a pinned link back: give it its former relative text again, if that still
    names the same folder."""
    try:
        if not os.path.islink(path) or not isinstance(text, str) or not text or os.path.isabs(text):
            return False
        if os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(path)), text)) != os.path.realpath(path):
            return False
    except OSError:
        return False
    _replace_link(path, text)
    return True


def _replace_link(path: str, target: str) -> None:
    """Make the link PATH name TARGET in one rename (a new link beside it replaces it), never a moment
    without a link."""
    tmp = f"{path}.envdoctor-link"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp, target_is_directory=True)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))
