"""Mirrors as data (matrices/mirrors.yaml): `--mirror NAME` reads each one as its layout needs.

The test matrix names two mirrors on a loopback server laid out per wheel variant, one of each layout:
a PEP 503 index (/whl/<variant>/) and a flat page (/flat/<variant>/). Real pip installs from them.
"""

from __future__ import annotations

import json
import os

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main
from envdoctor.matrix.loader import load_matrix


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if "--json" in argv and captured.out.strip() else captured.out)


@pytest.fixture
def mirror_index(env, wheels):
    with h.IndexServer(wheels["new"] + wheels["fakedep"]) as server:
        with open(os.path.join(env["ENVDOCTOR_MATRIX_DIR"], "mirrors.yaml"), "w", encoding="utf-8") as handle:
            handle.write(h.mirrors_yaml(server.root))
        yield server


def torch_version(root):
    site = next(p for p in __import__("glob").glob(os.path.join(root, "runtime", "lib", "python3*", "site-packages")))
    names = [n for n in os.listdir(site) if n.startswith("torch-") and n.endswith(".dist-info")]
    assert len(names) == 1, names
    return names[0][len("torch-"):-len(".dist-info")]


@pytest.mark.parametrize("mirror, layout_path", [("loop-index", "/whl/cu128/"),
                                                 pytest.param("loop-flat", "/flat/cu128/", marks=pytest.mark.slow)])
def test_a_mirror_of_each_layout_resolves_and_installs(bundle, mirror_index, capsys, mirror, layout_path):
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", mirror, "--dry-run", "--json")
    assert code == 0, out
    plan = out["plan"]
    assert plan["mirror"] == mirror
    url = mirror_index.root.rstrip("/") + layout_path
    if mirror == "loop-index":
        assert plan["index_url"] == url and plan["find_links"] == []
    else:  # the flat page alone replaces the matrix's index, and pip is given --find-links
        assert plan["index_url"] is None and plan["find_links"] == [url]
    assert sorted(w["name"] for w in out["resolution"]["wheels"]) == ["fakedep", "torch", "torchaudio"]

    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", mirror, "--yes", "--json")
    assert code == 0, json.dumps(out)[-3000:]
    assert out["status"] == "committed"
    assert torch_version(bundle) == "2.7.0+cu128"
    # every page came from the mirror's path for the plan's variant (cu128), none from elsewhere
    assert set(mirror_index.variants_asked) == {"cu128"}
    pages = [path for _method, path, _range in mirror_index.requests if not path.startswith("/files/")]
    assert pages and all(p.startswith(layout_path) for p in pages), pages


def test_the_plan_names_the_mirror_in_both_languages(bundle, mirror_index, capsys):
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "loop-flat", "--dry-run")
    assert code == 0, out
    flat = "".join(out.split())  # the table wraps long cells
    assert "(mirrorloop-flat)" in flat and "(flatpage)" in flat
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "loop-flat", "--dry-run", "--lang", "zh_CN")
    assert code == 0, out
    flat = "".join(out.split())
    assert "（镜像loop-flat）" in flat and "（平铺页面）" in flat


def test_bad_mirror_input_is_refused_before_any_work(bundle, mirror_index, tmp_path, capsys):
    before = h.manifest(os.path.join(bundle, "runtime"))
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "nowhere", "--dry-run", "--json")
    assert code == 3 and out["error"]["key"] == "upgrade.error.unknown_mirror"
    assert "loop-index, loop-flat" in out["error"]["message"]
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "loop-index", "--index-url",
                        mirror_index.url, "--dry-run", "--json")
    assert code == 3 and out["error"]["key"] == "upgrade.error.mirror_conflict"
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "loop-flat", "--wheelhouse",
                        str(tmp_path), "--yes", "--json")
    assert code == 3 and out["error"]["key"] == "upgrade.error.mirror_conflict"
    assert mirror_index.requests == []  # nothing was fetched
    assert h.manifest(os.path.join(bundle, "runtime")) == before


def test_a_flat_mirror_with_an_index_for_what_it_lacks(bundle, env, wheels, capsys):
    """torch and torchaudio on the flat page, their dependency only on the index given with it."""
    with h.IndexServer(wheels["new"]) as flat, h.IndexServer(wheels["fakedep"]) as index:
        with open(os.path.join(env["ENVDOCTOR_MATRIX_DIR"], "mirrors.yaml"), "w", encoding="utf-8") as handle:
            handle.write(h.mirrors_yaml(flat.root))
        code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "loop-flat", "--dry-run", "--json")
        assert code == 2 and "fakedep" in json.dumps(out["missing"])  # alone, the page lacks the dependency
        code, out = run_cli(capsys, "upgrade", "--root", bundle, "--mirror", "loop-flat", "--index-url", index.url,
                            "--dry-run", "--json")
        assert code == 0, out
        assert out["plan"]["index_url"] == index.url
        by_name = {w["name"]: w["url"] for w in out["resolution"]["wheels"]}
        assert by_name["torch"].startswith(flat.root) and by_name["fakedep"].startswith(index.root)


def test_list_mirrors_shows_the_shipped_matrix(monkeypatch, capsys):
    monkeypatch.delenv("ENVDOCTOR_MATRIX_DIR", raising=False)
    code, out = run_cli(capsys, "upgrade", "--list-mirrors", "--json")
    assert code == 0 and out["status"] == "mirrors"
    rows = {m["name"]: m for m in out["mirrors"]}
    assert {"official", "sjtu", "aliyun", "nju"} <= set(rows)
    assert rows["official"]["layout"] == "pep503" and "{variant}" in rows["official"]["url"]
    assert rows["sjtu"]["layout"] == "find-links" and rows["sjtu"]["region"] == "cn"
    assert all(m["url"].startswith("https://") for m in out["mirrors"])
    code, text = run_cli(capsys, "upgrade", "--list-mirrors", "--lang", "zh_CN")
    assert code == 0 and "中国大陆" in text and "平铺页面" in text


def test_every_verified_mirror_rests_on_a_primary_source():
    matrix = load_matrix()
    statuses = [f for f in matrix.fact_statuses if f.file == "mirrors.yaml"]
    assert {f.ref for f in statuses} >= {"mirrors[official]", "mirrors[sjtu]"}
    for fact in statuses:
        assert not fact.blocking  # a wheel source never decides a verdict
        if fact.verified:
            assert fact.kind == "primary" and fact.url.startswith("https://"), fact
