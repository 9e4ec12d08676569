"""CUDA binary-compatibility rules (CUDA C++ Programming Guide, "Binary Compatibility")."""

from __future__ import annotations

import pytest

from envdoctor.diagnose import coverage as cov


@pytest.mark.parametrize(
    ("cc", "sass", "ptx", "expected"),
    [
        ((8, 9), ["sm_86"], [], cov.NATIVE),  # same major, lower minor runs
        ((9, 0), ["sm_86"], [], cov.NONE),  # never across majors
        ((8, 6), ["sm_89"], [], cov.NONE),  # never a higher minor
        ((9, 0), ["sm_90a"], [], cov.NATIVE),  # "a" on exactly its arch
        ((10, 3), ["sm_100a"], [], cov.NONE),  # ... and nowhere else
        ((10, 3), ["sm_100f"], [], cov.NATIVE),  # "f" within its family
        ((12, 0), ["sm_50", "sm_90"], ["sm_90"], cov.PTX_JIT),  # PTX of a lower arch JITs forward
        ((12, 0), ["sm_90"], ["compute_90"], cov.PTX_JIT),  # torch's arch-list spelling of PTX
        ((8, 0), ["sm_90"], ["sm_90"], cov.NONE),  # PTX never runs on an older GPU
        ((12, 0), [], ["sm_90a"], cov.NONE),  # "a" PTX is arch-specific too
        ((6, 1), ["sm_60", "sm_70"], [], cov.NATIVE),  # GTX 10xx on sm_60
        ((12, 1), ["sm_120"], [], cov.NATIVE),  # GB10 runs sm_120
    ],
)
def test_verdict(cc, sass, ptx, expected) -> None:
    assert cov.verdict(cc, sass, ptx) == expected


def test_arch_names() -> None:
    assert cov.parse_arch("sm_120f") == cov.Arch(12, 0, "f")
    assert cov.parse_arch("compute_90") == cov.Arch(9, 0, "")
    assert cov.parse_arch("8.6") is None and cov.parse_arch("sm_9") is None
    assert cov.split_arch_list(["sm_86", "compute_90"]) == (("sm_86",), ("compute_90",))
    assert cov.best_native((8, 9), ["sm_80", "sm_86", "sm_90"]) == "sm_86"


def test_one_arch_order_everywhere() -> None:
    from envdoctor.model import arch_name, arch_order

    names = ["sm_120a", "compute_90", "lto_86", "sm_90a", "weird", "sm_100", "sm_86", "sm_90", "sm_103", "sm_75"]
    assert sorted(names, key=arch_order) == ["sm_75", "lto_86", "sm_86", "compute_90", "sm_90", "sm_90a",
                                              "sm_100", "sm_103", "sm_120a", "weird"]
    assert arch_name((12, 0)) == "sm_120" and arch_name((8, 6)) == "sm_86" and arch_name(None) == "sm_?"
