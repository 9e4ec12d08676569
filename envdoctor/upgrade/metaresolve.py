"""The full set of wheels an upgrade needs, resolved from metadata only (no wheel is downloaded).

Same rules as `pip install <targets>` without --upgrade: the targets (torch, torchaudio, ...) at the
plan's versions; every dependency an installed package already satisfies is kept; anything else is
taken at the newest version the source has that fits the runtime's tags, Python and the GPT-SoVITS
pins. Nothing is downloaded: every requirement that cannot be met is collected, so a plan that cannot
run names *everything* that is missing before any work starts.

torch builds are matched on what a wheel is, not on its name: PyTorch's indexes label versions
(`2.7.0+cu128`), the package index does not (its Linux torch 2.14.1 is a CUDA 13.0 build named plain
`2.14.1`). A label, when present, decides; without one, the wheel's own `torch/version.py` does.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from email.parser import HeaderParser
from typing import Dict, List, Optional, Sequence, Set, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.upgrade.finder import Finder, Link
from envdoctor.upgrade.resolve import WheelRef
from envdoctor.upgrade.targetenv import TargetEnv
from envdoctor.upgrade.wheelread import WheelReader

VERSION_FILE = "torch/version.py"


@dataclass(frozen=True)
class Wanted:
    """A target of the plan: a project at one release, of one build ("cu130", "cpu"; None: any)."""

    name: str
    version: str  # public version, no local label
    build: Optional[str] = None
    spec: str = ""  # a companion (torchcodec, ctranslate2): this specifier instead of ==version; an
    # installed release that meets it is kept, as pip would keep it
    optional: bool = False  # not on the source: said (MetaResolution.unavailable), not a reason to refuse




@dataclass(frozen=True)
class Missing:
    requirement: str
    needed_by: str
    reason: str  # no-file | no-build | conflict | python | platform | mislabeled
    detail: str = ""
    builds: Tuple[str, ...] = ()  # no-build: the builds the source has of this release (cu130, cpu...)


@dataclass
class MetaResolution:
    wheels: List[WheelRef] = field(default_factory=list)
    missing: List[Missing] = field(default_factory=list)
    kept: List[str] = field(default_factory=list)
    unavailable: List[Missing] = field(default_factory=list)  # optional targets the source does not have

    @property
    def ok(self) -> bool:
        return not self.missing


def build_of_label(local: Optional[str]) -> Optional[str]:
    """'cu128' -> 'cu128'; 'cpu' -> 'cpu'; other or no label -> None."""
    if not local:
        return None
    head = local.split(".")[0]
    return head if head.startswith(("cu", "cpu", "rocm")) else None


def build_of_cuda(cuda: Optional[str]) -> str:
    """torch.version.cuda '13.0' -> 'cu130'; None -> 'cpu'."""
    if not cuda:
        return "cpu"
    parts = cuda.split(".")
    return "cu" + parts[0] + (parts[1] if len(parts) > 1 else "0")


def cuda_of_version_py(text: str) -> Optional[str]:
    """The `cuda = '13.0'` line of torch/version.py (read, never executed)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        # `cuda = '12.8'`, or in newer torch `cuda: Optional[str] = '13.0'`
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        value = getattr(node, "value", None)
        if any(getattr(t, "id", None) == "cuda" for t in targets) and isinstance(value, ast.Constant):
            return value.value if isinstance(value.value, str) else None
    return None


def _requires(metadata: str) -> Tuple[List[str], Optional[str]]:
    message = HeaderParser().parsestr(metadata)
    return list(message.get_all("Requires-Dist") or []), message.get("Requires-Python")


def _python_ok(spec: Optional[str], env: TargetEnv) -> bool:
    if not spec or not env.python_full:
        return True
    try:
        return SpecifierSet(spec).contains(env.python_full, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True  # pip also ignores a malformed Requires-Python


class Resolver:
    def __init__(self, finder: Finder, reader: WheelReader, env: TargetEnv, installed: Dict[str, str],
                 constraints: Sequence[str] = ()) -> None:
        self.finder = finder
        self.reader = reader
        self.env = env
        self.installed = {str(canonicalize_name(k)): v for k, v in installed.items()}
        self.constraints: Dict[str, SpecifierSet] = {}
        for text in constraints:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate(dict(env.markers)):
                key = str(canonicalize_name(req.name))
                self.constraints[key] = self.constraints.get(key, SpecifierSet()) & req.specifier

    def resolve(self, wanted: Sequence[Wanted]) -> MetaResolution:
        out = MetaResolution()
        chosen: Dict[str, Version] = {}
        queue: List[Tuple[Requirement, str, Optional[str]]] = []
        for item in wanted:
            text = f"{item.name}{item.spec}" if item.spec else f"{item.name}=={item.version}"
            queue.append((Requirement(text), "plan", item.build))
        targets = {str(canonicalize_name(w.name)) for w in wanted if not w.spec}
        optional = {str(canonicalize_name(w.name)) for w in wanted if w.optional}
        seen_extras: Set[Tuple[str, str]] = set()
        missing_names: Set[str] = set()
        while queue:
            req, needed_by, build = queue.pop(0)
            key = str(canonicalize_name(req.name))
            spec = req.specifier & self.constraints.get(key, SpecifierSet())
            if key in chosen:
                if not spec.contains(chosen[key], prereleases=True):
                    out.missing.append(Missing(f"{req}", needed_by, "conflict", f"{key} {chosen[key]} chosen"))
                continue
            have = self.installed.get(key)
            if key not in targets and have is not None and _contains(spec, have):
                if key not in {k.split("==")[0] for k in out.kept}:
                    out.kept.append(f"{key}=={have}")
                continue
            if key in missing_names:
                continue  # said once: the same requirement reached through another path adds nothing
            picked = self._pick(key, spec, build, needed_by, out)
            if picked is None:
                missing_names.add(key)
                if key in optional and needed_by == "plan" and out.missing:
                    out.unavailable.append(out.missing.pop())
                continue
            link, version, info, cuda = picked
            chosen[key] = version
            requires, _py = _requires(info.metadata)
            out.wheels.append(WheelRef(
                name=key, version=str(version), url=link.url, filename=link.filename,
                sha256=link.sha256 or self.reader.hash_of(link),
                requested=needed_by == "plan", size=info.size, unpacked=info.unpacked,
                unhashed_ok=link.origin == "find-links" and not link.sha256, build=cuda))
            extras = set(req.extras)
            for text in requires:
                try:
                    dep = Requirement(text)
                except (InvalidRequirement, RecursionError):  # nested markers: bounded by zipmeta's line cap
                    continue
                if dep.marker is not None:
                    env = dict(self.env.markers)
                    applies = any(dep.marker.evaluate({**env, "extra": e}) for e in (extras or {""}))
                    if not applies:
                        continue
                marker_key = (str(canonicalize_name(dep.name)), str(dep))
                if marker_key in seen_extras:
                    continue
                seen_extras.add(marker_key)
                queue.append((dep, f"{key} {version}", None))
        return out

    def _pick(self, key: str, spec: SpecifierSet, build: Optional[str], needed_by: str, out: MetaResolution):
        links = self.finder.links(key)
        fitting = []
        foreign = []  # wheels of a fitting version whose tags this runtime cannot use (Windows-only...)
        for link in links:
            try:
                _name, version, tags = link.parsed
            except Exception:  # noqa: BLE001 - a file name that is no valid wheel name is skipped, as pip does
                continue
            if not _contains(spec, str(version)):
                continue
            rank = self.env.tag_rank(tags)
            if rank is None:
                foreign.append((version, tags))
                continue
            if link.yanked and not any(s.operator in ("==", "===") for s in spec):
                continue
            if not _python_ok(link.requires_python, self.env):
                continue
            fitting.append((version, -rank, link))
        requirement = f"{key}{spec}" if str(spec) else key
        if not fitting:
            if foreign:
                platforms = sorted({t.platform for _v, tags in foreign for t in tags})
                versions = sorted({str(v) for v, _t in foreign})
                out.missing.append(Missing(requirement, needed_by, "platform",
                                           f"{', '.join(versions)} ({', '.join(platforms)})"))
                return None
            detail = ", ".join(sorted({str(link.parsed[1]) for link in links if _parses(link)})) or "none"
            out.missing.append(Missing(requirement, needed_by, "no-file", detail))
            return None
        fitting.sort(key=lambda item: (item[0], item[1]), reverse=True)
        seen_builds = []
        builds: List[str] = []
        mislabeled = []
        for version, _rank, link in fitting:
            label = build_of_label(version.local)
            if build is not None and label is not None and label != build:
                seen_builds.append(f"{link.filename} ({label})")
                builds.append(label)
                continue
            # torch: the wheel's own torch/version.py says what it is, whatever its name claims (a mirror
            # has served a CPU build under a CUDA name)
            # (PEP 658 metadata and a label: the label is taken for now and the download checks the file,
            # so that a source without Range support is not made to send the whole wheel for a dry run)
            read_version = key == "torch" and not (label is not None and link.metadata is not None)
            info = self.reader.read(link, (VERSION_FILE,) if read_version else ())
            cuda: Optional[str] = None
            if key == "torch":
                text = info.members.get(VERSION_FILE, b"").decode("utf-8", errors="replace")
                cuda_text = cuda_of_version_py(text) if text else None
                actual = build_of_cuda(cuda_text) if text else label
                if label is not None and text and actual != label and label.startswith(("cu", "cpu")):
                    mislabeled.append(f"{link.filename}: {actual}")
                    continue
                cuda = cuda_text if text else (None if label in (None, "cpu") else f"{label[2:-1]}.{label[-1]}")
                if build is not None and actual != build:
                    seen_builds.append(f"{link.filename} ({actual or '?'})")
                    if actual:
                        builds.append(actual)
                    continue
            _reqs, requires_python = _requires(info.metadata)
            if not _python_ok(requires_python, self.env):
                continue
            return link, version, info, cuda
        if mislabeled:
            out.missing.append(Missing(requirement + (f" ({build})" if build else ""), needed_by, "mislabeled",
                                       "; ".join(mislabeled)))
            return None
        out.missing.append(Missing(requirement + (f" ({build})" if build else ""), needed_by, "no-build",
                                   "; ".join(seen_builds), tuple(dict.fromkeys(builds))))
        return None


def _parses(link: Link) -> bool:
    try:
        return bool(link.parsed)
    except Exception:  # noqa: BLE001
        return False


def _contains(spec: SpecifierSet, version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    if not str(spec):
        return not parsed.is_prerelease
    explicit_pre = any(Version(s.version.replace(".*", "")).is_prerelease for s in spec
                       if s.version.replace(".*", "")[:1].isdigit() and _valid(s.version.replace(".*", "")))
    return spec.contains(parsed, prereleases=explicit_pre or None)


def _valid(text: str) -> bool:
    try:
        Version(text)
        return True
    except InvalidVersion:
        return False
