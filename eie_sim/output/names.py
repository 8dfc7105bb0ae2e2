"""Names given by the user (layer names, network names) made safe wherever they become a
file name, a plot's text, an HTML id or a Markdown cell: every writer goes through here.

* :func:`safe_names`: per name a :class:`SafeName` (``file``: the part of a file name,
  ASCII letters, digits, ``-``, ``_`` and ``.``: the name itself when it is safe and at
  most :data:`MAX_FILE_PART` characters, else at most :data:`MAX_FILE_PART` of it plus
  ``-`` and an 8-character hash of the name (and ``-2``, ``-3`` ... on a clash), so ``a/b``,
  ``a b`` and ``a_b`` give three files; ``html_id``: unique in a page; ``title``: the name
  as matplotlib shows it literally).
* :func:`plot_text`: any text for a matplotlib title, label or tick label (``$`` escaped:
  never read as mathtext, so ``fc$\\foo{$`` is drawn as typed instead of failing).
* :func:`markdown_text`: a name for a Markdown table cell (pipes, backticks, brackets,
  emphasis and HTML characters escaped); :func:`markdown_code`: the same as inline code.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable

__all__ = ["SafeName", "safe_names", "plot_text", "markdown_text", "markdown_code",
           "MAX_FILE_PART"]

#: longest file-name part made from a name (the hash suffix included: 80 + 9)
MAX_FILE_PART = 80

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#$])")


@dataclass(frozen=True)
class SafeName:
    """One name's safe forms (see the module docstring)."""

    file: str
    title: str
    html_id: str


def plot_text(text) -> str:
    """``text`` drawn literally by matplotlib: every ``$`` escaped (no mathtext)."""
    return str(text).replace("$", r"\$")


def markdown_text(text) -> str:
    """``text`` for a Markdown table cell: Markdown's special characters backslash-escaped,
    line breaks as spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def markdown_code(text) -> str:
    """``text`` as inline code in a Markdown table cell, or escaped as :func:`markdown_text`
    when it holds a backtick, pipe, backslash or line break (which inline code cannot hold)."""
    text = str(text)
    if re.search(r"[`|\\\r\n]", text) or not text.strip():
        return markdown_text(text)
    return f"`{text}`"


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _file_part(name: str) -> str:
    clean = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name)
    if clean == name and 0 < len(clean) <= MAX_FILE_PART:
        return clean
    return f"{clean[:MAX_FILE_PART]}-{_digest(name)}"


def safe_names(names: Iterable[str]) -> dict[str, SafeName]:
    """Every distinct name of ``names`` -> its :class:`SafeName`; file parts (and so ids)
    are unique: the rare clash left after hashing gets ``-2``, ``-3`` in order of the names."""
    out: dict[str, SafeName] = {}
    used: set[str] = set()
    for name in dict.fromkeys(str(n) for n in names):
        part = _file_part(name)
        if part in used:
            k = 2
            while f"{part}-{k}" in used:
                k += 1
            part = f"{part}-{k}"
        used.add(part)
        out[name] = SafeName(file=part, title=plot_text(name), html_id=f"n-{part}")
    return out
