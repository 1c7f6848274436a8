"""Code blocks of the documentation, so that tests run what the Markdown shows.

A block is named by an HTML comment on the line before its fence, ``<!-- snippet: NAME -->``
(invisible on GitHub and on the site). Tests replace only what a reader would: URLs,
names and regions.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NAMED = re.compile(
    r"^<!-- snippet: (?P<name>[a-z0-9-]+) -->\n```(?P<lang>\w*)\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
_BLOCK = re.compile(r"^```(?P<lang>\w*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)


def named_snippets(markdown: Path) -> dict[str, str]:
    """Every named block of ``markdown``: name -> code."""
    text = markdown.read_text()
    return {match["name"]: match["code"] for match in _NAMED.finditer(text)}


def snippet(markdown: Path, name: str, replacements: dict[str, str] | None = None) -> str:
    """The code of the block ``name``, with each replacement made; a replacement that does
    not occur fails, so a changed snippet cannot silently skip one."""
    code = named_snippets(markdown)[name]
    for old, new in (replacements or {}).items():
        assert old in code, f"{markdown.name}:{name} no longer contains {old!r}"
        code = code.replace(old, new)
    return code


def blocks(markdown: Path, lang: str | None = None) -> list[str]:
    """Every fenced block (of language ``lang``, when given)."""
    found = _BLOCK.finditer(markdown.read_text())
    return [m["code"] for m in found if lang is None or m["lang"] == lang]
