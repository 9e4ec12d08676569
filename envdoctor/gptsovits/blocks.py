"""Marked blocks: the only text envdoctor adds to GPT-SoVITS files, findable and removable.

A block is whole lines between a begin marker and an end marker, both comments in the file's language,
each naming the block. Lines are joined with the file's own newline.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

# No < > | & in the markers: they are REM lines in .bat files, where cmd must not see redirection.
# The hint names the command as the user starts envdoctor in that folder (runtime\\python.exe envdoctor.pyz);
# blocks are found by the part before it, so blocks written with another hint are found too.
BEGIN = "envdoctor configure: begin {name} (remove with: "
BEGIN_HINT = "{prefix} configure --revert)"
END = "envdoctor configure: end {name}"


def wrap(name: str, comment: str, body: List[str], prefix: str = "envdoctor") -> List[str]:
    begin = BEGIN.format(name=name) + BEGIN_HINT.format(prefix=prefix)
    return [f"{comment} {begin}", *body, f"{comment} {END.format(name=name)}"]


def find(text: str, name: str) -> Optional[Tuple[int, int]]:
    """(start, end) offsets of block NAME including its last line's newline, or None."""
    begin_tag = BEGIN.format(name=name)
    start = text.find(begin_tag)
    if start < 0:
        return None
    start = text.rfind("\n", 0, start) + 1  # back to the line start (after the comment leader)
    end_tag = END.format(name=name)
    end = text.find(end_tag, start)
    if end < 0:
        return None
    line_end = text.find("\n", end)
    if line_end >= 0:
        return start, line_end + 1
    # The block ends the file without a final newline: it was put after a last line that had none,
    # so the newline before the block is envdoctor's too.
    if text.endswith("\r\n", 0, start):
        return start - 2, len(text)
    if text.endswith("\n", 0, start):
        return start - 1, len(text)
    return start, len(text)


def strip(text: str, name: str) -> str:
    """TEXT without block NAME (used when a file changed after envdoctor wrote it)."""
    span = find(text, name)
    while span is not None:
        text = text[: span[0]] + text[span[1]:]
        span = find(text, name)
    return text


def body_of(text: str, name: str) -> Optional[str]:
    span = find(text, name)
    return None if span is None else text[span[0]: span[1]]
