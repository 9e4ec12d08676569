"""Where an upgrade takes its wheels from: the plan's index, --index-url, --find-links, or a mirror
named in matrices/mirrors.yaml, read the way its layout needs (a PEP 503 index, or a flat page)."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence, Tuple

from envdoctor.errors import UsageError
from envdoctor.matrix.loader import load_matrix
from envdoctor.matrix.views import PEP503, Matrix, Mirror
from envdoctor.upgrade.plan import Plan


def find_mirror(matrix: Matrix, name: str) -> Mirror:
    """The mirror of this name; a usage error naming the known ones otherwise (nothing has started)."""
    mirror = matrix.mirror(name)
    if mirror is None:
        raise UsageError("upgrade.error.unknown_mirror", name=name,
                         known=", ".join(m.name for m in matrix.mirrors) or "-")
    return mirror


def check_mirror_args(mirror: Optional[str], wheelhouse: Optional[str]) -> None:
    """Bad --mirror input is refused before any work: an unknown name, or a wheelhouse (offline) beside it."""
    if not mirror:
        return
    if wheelhouse:
        raise UsageError("upgrade.error.mirror_conflict", option="--wheelhouse")
    find_mirror(load_matrix(), mirror)


def apply_sources(plan: Plan, matrix: Matrix, mirror: Optional[str], index_url: Optional[str],
                  wheelhouse: Optional[str], find_links: Sequence[str]) -> Plan:
    """The plan with its wheel source settled: `index_url` and `find_links` as pip will get them.

    - a flat location given alone (--find-links, or a find-links mirror) replaces the matrix's index;
      with --index-url as well, the index serves what the flat page lacks;
    - a pep503 mirror is the index for the plan's variant (so --index-url contradicts it).
    """
    check_mirror_args(mirror, wheelhouse)
    links: Tuple[str, ...] = tuple(find_links)
    if plan.target is None:
        return replace(plan, find_links=links)
    chosen = find_mirror(matrix, mirror) if mirror else None
    new_index = plan.index_url
    if chosen is not None:
        url = chosen.url_for(plan.target.variant)
        if chosen.layout == PEP503:
            if index_url:
                raise UsageError("upgrade.error.mirror_conflict", option="--index-url")
            new_index = url
        else:
            links = (url,) + links
            new_index = index_url  # None: the flat page alone
    elif links and not index_url:
        new_index = None  # a flat mirror given alone replaces the index
    return replace(plan, index_url=new_index, find_links=links, mirror=chosen.name if chosen else None)
