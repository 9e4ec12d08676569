"""Everything a plan needs checked before any work: the exact wheels (from metadata only), what is
missing from the source, the driver rule applied to the build each torch wheel really is, and an
honest estimate of download and disk space. `--dry-run` shows it; the upgrade runs it before staging.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple

from packaging.version import Version

from envdoctor.matrix.views import Matrix
from envdoctor.process.relaunch import possible as relaunch_possible
from envdoctor.upgrade import windows
from envdoctor.upgrade.download import Downloader
from envdoctor.upgrade.finder import Finder
from envdoctor.upgrade.fsutil import same_filesystem
from envdoctor.upgrade.layout import layout_for_runtime
from envdoctor.upgrade.metaresolve import MetaResolution, Missing, Resolver, Wanted
from envdoctor.upgrade.plan import Note, Plan
from envdoctor.upgrade.resolve import Resolution
from envdoctor.upgrade.sources import Source
from envdoctor.upgrade.targetenv import TargetEnv, target_env
from envdoctor.upgrade.wheelread import Http, WheelReader

UNPACK_RATIO = 2.5  # bytes installed per byte of wheel, where the zip's directory was not read


@dataclass
class Preflight:
    resolution: Resolution
    missing: List[Missing]
    blockers: List[Note]
    notes: List[Note]
    download_bytes: int  # not yet in the download cache (0 for a local wheelhouse)
    local_bytes: int  # wheels read from a local folder or already cached
    disk_needed: int
    metadata_bytes: int  # what resolving cost over the network
    kept: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.blockers


def wanted_of(plan: Plan) -> List[Wanted]:
    assert plan.target is not None
    out = []
    for name, version in (("torch", plan.target.torch), ("torchaudio", plan.target.torchaudio),
                          ("torchvision", plan.target.torchvision)):
        if version:
            out.append(Wanted(name, Version(version).public, plan.target.variant if plan.target.cuda or
                              plan.target.variant == "cpu" else None))
    for name, spec in plan.target.companions:
        # torchcodec is what torchaudio reads audio with: required; ctranslate2 (ASR) is on few torch
        # sources: wanted, said when the source lacks it
        out.append(Wanted(name, "", None, spec, optional=name == "ctranslate2"))
    return out


def source_of(plan: Plan, find_links: Tuple[str, ...] = ()) -> Source:
    return Source(plan.index_url, plan.wheelhouse, tuple(find_links))


def run_preflight(plan: Plan, python: str, installed: Dict[str, str], matrix: Matrix, driver: Optional[str],
                  platform: str, cache_dir: str, stage_copy_bytes: int, force: bool = False,
                  find_links: Tuple[str, ...] = (), env: Optional[TargetEnv] = None,
                  http: Optional[Http] = None, runtime_root: Optional[str] = None,
                  long_paths: Optional[Callable[[], bool]] = None, interpreter: Optional[str] = None) -> Preflight:
    assert plan.target is not None
    http = http or Http()
    downloader = Downloader(os.path.join(cache_dir, "wheels"))
    env = env or target_env(python)
    source = source_of(plan, find_links)
    resolver = Resolver(Finder(source, http), WheelReader(http, downloader), env, installed, plan.constraints)
    meta: MetaResolution = resolver.resolve(wanted_of(plan))
    wheels = [replace(w, size=w.size if w.size is not None else downloader.size_of(w)) for w in meta.wheels]
    blockers: List[Note] = list(plan.blockers)
    notes: List[Note] = []
    absent = [m for m in meta.missing if m.reason != "mislabeled"]
    if absent:
        blockers.append(Note("missing", {"items": "; ".join(_missing_text(m) for m in absent),
                                         "source": source.describe()}))
    for item in meta.unavailable:
        notes.append(Note("companion_unavailable", {"requirement": item.requirement, "source": source.describe()}))
    for wrong in (m for m in meta.missing if m.reason == "mislabeled"):
        # the file's name says one build, its torch/version.py another: the source is at fault
        blockers.append(Note("mislabeled", {"source": source.describe(), "files": wrong.detail}))
    torch = next((w for w in wheels if w.name == "torch"), None)
    if torch is not None and torch.build and driver is not None:
        # the build the wheel really is: refused only if the driver cannot start it at all
        can, need = matrix.driver_can_start(torch.build, driver, platform)
        said = any(b.key == "override_driver" and b.params.get("driver") == need for b in blockers)
        if not can and not said:
            note = Note("driver_for_build", {"file": torch.filename, "cuda": torch.build, "driver": need or "?",
                                             "installed": driver})
            (notes if force else blockers).append(note)
    other_fs = other_filesystem(runtime_root)
    if other_fs is not None:
        blockers.append(other_fs)
    running_inside = self_in_runtime(interpreter or sys.executable, runtime_root, platform)
    if running_inside is not None:
        blockers.append(running_inside)
    if platform == "windows" and runtime_root:
        problem = _long_paths(runtime_root, long_paths or windows.long_paths_enabled)
        if problem is not None:
            blockers.append(Note("path_too_long", {"path": problem[0], "length": problem[1],
                                                   "limit": windows.MAX_PATH}))
    if any(w.unhashed_ok for w in wheels):
        notes.append(Note("unhashed", {"source": source.describe()}))
    download = local = 0
    unpacked = 0
    for wheel in wheels:
        size = wheel.size or 0
        if wheel.url.startswith("file:") or downloader.cached(wheel.filename, wheel.sha256):
            local += size
        else:
            download += size
        unpacked += wheel.unpacked if wheel.unpacked is not None else int(size * UNPACK_RATIO)
    # A hard-linked stage writes only the files it must copy; pip then writes the new packages in
    # full (the old ones' links are dropped, which frees nothing while the original holds them).
    disk = stage_copy_bytes + download + unpacked
    if runtime_root:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(runtime_root))).free
        if free < disk:
            blockers.append(Note("no_space", {"needed_mb": disk >> 20, "free_mb": free >> 20,
                                              "path": os.path.dirname(os.path.abspath(runtime_root))}))
    return Preflight(Resolution(tuple(wheels), "metadata"), meta.missing, blockers, notes, download, local, disk,
                     http.received, meta.kept)


def other_filesystem(runtime_root: Optional[str]) -> Optional[Note]:
    """The swap is a rename: the stage must be on the runtime's filesystem. The run refuses that when it
    makes the stage; the plan says it first (the state folder may already exist, e.g. as a link to
    another disk; where it does not, the nearest folder that exists is where it will be created)."""
    if not runtime_root or not os.path.isdir(runtime_root):
        return None
    state = layout_for_runtime(runtime_root).state_dir
    probe = state
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if same_filesystem(probe, runtime_root):
        return None
    return Note("other_filesystem", {"path": state, "runtime": runtime_root})


def self_in_runtime(interpreter: str, runtime_root: Optional[str], platform: str) -> Optional[Note]:
    """Windows cannot rename a folder while a program runs from it: an upgrade started with the bundle's own
    runtime\\python.exe would stage, download and verify, then fail at the swap. Said before anything starts,
    where envdoctor cannot run from a copy of the interpreter outside runtime\\ instead."""
    if platform != "windows" or not runtime_root or not windows.lives_under(interpreter, runtime_root):
        return None
    if relaunch_possible(runtime_root):
        return None  # the command steps out of runtime\ first (envdoctor/process/relaunch.py)
    return Note("self_in_runtime", {"python": interpreter, "runtime": runtime_root})


def _long_paths(runtime_root: str, enabled: Callable[[], bool]):
    """The stage sits deeper than runtime\\: <root>\\.envdoctor\\upgrade\\tx-<id>\\stage (the id has 23 characters)."""
    root = os.path.dirname(os.path.abspath(runtime_root))
    stage = "\\".join([root, ".envdoctor", "upgrade", "tx-" + "0" * 23, "stage"])
    return windows.long_path_problem(stage, windows.tree_relative_paths(runtime_root), enabled())


def _missing_text(item: Missing) -> str:
    text = f"{item.requirement} (needed by {item.needed_by})" if item.needed_by != "plan" else item.requirement
    if item.reason == "no-build" and item.detail:
        text += f": only {item.detail}"
    elif item.reason == "no-file" and item.detail and item.detail != "none":
        text += f": the source has {item.detail}"
    elif item.reason == "conflict":
        text += f": {item.detail}"
    elif item.reason == "platform":
        text += f": only wheels for other platforms: {item.detail}"
    return text
