"""`envdoctor upgrade --list-mirrors`: the wheel sources mirrors.yaml knows, with layout, region and evidence."""

from __future__ import annotations

from typing import Any, Dict, List

from envdoctor.cli.ui import Ui
from envdoctor.matrix.loader import load_matrix
from envdoctor.result import CommandResult

# rich's Table is imported where the text view draws it: `upgrade --list-mirrors --json` never does.


def mirror_rows(lang: str) -> List[Dict[str, Any]]:
    """Every mirror as the JSON answer (and fix's mirror question) shows it."""
    return [{"name": m.name, "title": m.title.get(lang) or m.title.get("en") or m.name, "region": m.region,
             "layout": m.layout, "url": m.url, "verified": m.verified, "source": m.source, "notes": m.notes}
            for m in load_matrix().mirrors]


def list_mirrors(ui: Ui) -> CommandResult:
    rows = mirror_rows(ui.lang)

    def data(lang: str) -> Dict[str, Any]:
        return {"status": "mirrors", "summary": ui.text("upgrade.mirrors.summary", count=len(rows)),
                "mirrors": mirror_rows(lang)}

    def render(view: Ui) -> None:
        from rich.table import Table

        console = view.console()
        if not rows:
            console.print(view.text("upgrade.mirrors.none"), markup=False)
            return
        table = Table(title=view.text("upgrade.mirrors.title"))
        for key in ("name", "title", "region", "layout", "url", "verified"):
            # the URL is what a user copies: folded, never cut short
            table.add_column(view.text(f"upgrade.mirrors.col.{key}"), overflow="fold")
        for row in mirror_rows(view.lang):
            table.add_row(row["name"], row["title"], view.text(f"upgrade.region.{row['region']}"),
                          view.text(f"upgrade.layout.{row['layout']}"), row["url"],
                          view.text("upgrade.yes" if row["verified"] else "upgrade.no"))
        console.print(table)
        console.print(view.text("upgrade.mirrors.how"), markup=False)

    return CommandResult("upgrade", "mirrors", 0, data=data, render=render)
