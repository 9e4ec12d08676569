"""The command line in Chinese: --help texts, argparse's own phrases and its error messages.

The English help texts stay where each option is declared (envdoctor/cli/<command>.py); the Chinese
for each is looked up by that text in envdoctor/i18n/zh_CN/cli_help.py. argparse formats its phrases
("usage: ", "unrecognized arguments: %s", ...) through its module-level gettext functions at the moment
it prints or fails, so `speaking` swaps those for the duration of parsing.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any, Iterator


def translate_parser(parser: argparse.ArgumentParser, lang: str) -> None:
    """Every help text and description of PARSER and its subparsers in LANG (English: unchanged)."""
    if lang != "zh_CN":
        return
    from envdoctor.i18n.zh_CN.cli_help import HELP, SCAN_DESCRIPTION

    def walk(current: argparse.ArgumentParser) -> None:
        if current.description:
            if current.description.startswith("list the CUDA kernels") and "cuobjdump" in current.description:
                current.description = SCAN_DESCRIPTION
            else:
                current.description = HELP.get(current.description, current.description)
        for action in current._actions:
            if isinstance(action.help, str):
                action.help = HELP.get(action.help, action.help)
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if isinstance(choice.help, str):
                        choice.help = HELP.get(choice.help, choice.help)
                for sub in dict.fromkeys(action.choices.values()):
                    walk(sub)
        for group in current._action_groups:
            if group.title:
                group.title = _phrase(group.title)
        current.formatter_class = ChineseHelpFormatter

    walk(parser)


class ChineseHelpFormatter(argparse.HelpFormatter):
    """argparse ends each section heading with an ASCII colon; a Chinese heading takes the full-width one."""

    def format_help(self) -> str:
        import re

        return re.sub(r"(?m)^(位置参数|选项):$", r"\1：", super().format_help())


def _phrase(text: str) -> str:
    from envdoctor.i18n.zh_CN.cli_help import ARGPARSE

    return ARGPARSE.get(text, text)


@contextlib.contextmanager
def speaking(lang: str) -> Iterator[None]:
    """argparse's phrases and errors in LANG while the block runs (usage, help, parse errors)."""
    if lang != "zh_CN":
        yield
        return
    saved: Any = (argparse._, argparse.ngettext)  # type: ignore[attr-defined]

    def ngettext(singular: str, plural: str, count: int) -> str:
        return _phrase(singular if count == 1 else plural)

    argparse._ = _phrase  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]
