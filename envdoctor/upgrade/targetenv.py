"""The runtime's wheel tags and marker environment, as its own interpreter states them.

Asked of the runtime's interpreter with -B -I (writes nothing, ignores user site and PYTHON* variables),
from the `packaging` that its pip vendors; the answer decides which wheel files fit and which
dependencies apply, exactly as that pip would decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from envdoctor.probes.runner import Runner, last_marked_json
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.proc import StageRunner, output_tail

MARKER = "ENVDOCTOR-TARGET "
# A runtime without pip (an embeddable bundle) is said as such: the upgrade installs with that pip, so
# nothing can be done before pip is there (a traceback here read as a fault of the wheel source).
SCRIPT = r"""
import importlib.util, json, sys
if importlib.util.find_spec("pip") is None:
    sys.stdout.write("ENVDOCTOR-TARGET " + json.dumps({"no_pip": True}) + "\n")
    raise SystemExit(0)
try:
    from pip._vendor.packaging import markers, tags
except ImportError:
    from packaging import markers, tags
out = {"tags": [str(t) for t in tags.sys_tags()], "markers": markers.default_environment()}
sys.stdout.write("ENVDOCTOR-TARGET " + json.dumps(out) + "\n")
"""


@dataclass(frozen=True)
class TargetEnv:
    tags: Tuple[str, ...]  # best first
    markers: Dict[str, str]

    @property
    def python_full(self) -> str:
        return self.markers.get("python_full_version", "")

    def tag_rank(self, tags) -> Optional[int]:
        ranks = [self._index.get(str(t)) for t in tags]
        found = [r for r in ranks if r is not None]
        return min(found) if found else None

    @property
    def _index(self) -> Dict[str, int]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {t: i for i, t in enumerate(self.tags)}
            object.__setattr__(self, "_index_cache", cached)
        return cached


def target_env(python: str, runner: Optional[Runner] = None) -> TargetEnv:
    result = (runner or StageRunner()).run([python, "-B", "-I", "-c", SCRIPT], timeout=120)
    answer = last_marked_json(result.stdout, MARKER)
    if answer and answer.get("no_pip"):
        raise UpgradeError("upgrade.error.no_pip", python=python)
    if not answer or not answer.get("tags"):
        raise UpgradeError("upgrade.error.target_env", python=python, detail=output_tail(result, 600))
    return TargetEnv(tuple(answer["tags"]), {str(k): str(v) for k, v in answer["markers"].items()})
