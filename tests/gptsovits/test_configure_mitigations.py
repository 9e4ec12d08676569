from __future__ import annotations

from envdoctor.gptsovits.mitigations import FP16_RISK, NVRTC_OLD, mitigated
from tests.gptsovits.conftest import configure


def test_nothing_is_mitigated_on_a_fresh_tree(tree) -> None:
    assert mitigated(str(tree("main")), {}) == {}


def test_env_is_half_alone_does_not_count_where_config_overrides_it(tree) -> None:
    assert mitigated(str(tree("main")), {"is_half": "False"}) == {}
    assert mitigated(str(tree("v2-2024")), {"is_half": "False"}) == {FP16_RISK: "is_half=False"}


def test_configured_tree_mitigates_both_memo_failures(tree, capsys) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "off", "--yes", capsys=capsys)
    assert set(mitigated(str(root), {})) == {FP16_RISK, NVRTC_OLD}
    # The user turned speaker verification back on for this run: NVRTC is in play again.
    assert set(mitigated(str(root), {"GPT_SOVITS_SV_MODE": "on"})) == {FP16_RISK}


def test_a_folder_that_is_not_gptsovits_mitigates_nothing(tmp_path) -> None:
    assert mitigated(str(tmp_path), {}) == {}


def test_mitigated_neither_imports_yaml_nor_reads_tts_infer(tree, capsys) -> None:
    """It runs in every pre-launch check; tts_infer.yaml is the API's, not the WebUI's."""
    import subprocess
    import sys
    from pathlib import Path

    root = tree("main")
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "off", "--yes", capsys=capsys)
    script = ("import sys; from envdoctor.gptsovits.mitigations import mitigated; "
              "print(sorted(mitigated(sys.argv[1], {}))); print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2]).stdout
    assert out.split("\n")[:2] == [str(sorted([FP16_RISK, NVRTC_OLD])), "False"]
