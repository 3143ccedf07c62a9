"""Tab titles that Excel, LibreOffice and Google Sheets all accept.

Excel and LibreOffice refuse a sheet name over 31 characters (counted as UTF-16
code units: an emoji is two), with any of ``[]:*?/\\``, starting or ending with an
apostrophe, or named "History" (Excel keeps that one); and a name differing only
in case from another tab's. Google Sheets accepts more, so a title valid in a
workbook is valid everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Collection

TITLE_LIMIT = 31
_BAD = re.compile(r"[\[\]*?:/\\]")
_RESERVED = frozenset({"history"})
# Words a shortened title should not end on ("Secondary and", "Control of").
_DANGLING = frozenset({"and", "or", "of", "the", "for", "&", "-", "–", "—", ","})


def title_length(title: str) -> int:
    """The length Excel counts: UTF-16 code units."""
    return len(title.encode("utf-16-le")) // 2


def is_valid_title(title: str) -> bool:
    """Whether a workbook accepts this as a sheet's name (uniqueness aside)."""
    return (bool(title.strip()) and title_length(title) <= TITLE_LIMIT and not _BAD.search(title)
            and not title.startswith("'") and not title.endswith("'")
            and title.casefold() not in _RESERVED)


def valid_title(name: str, code: str, taken: Collection[str]) -> str:
    """A title for a department's tab from its ``name``: the name itself when it is valid
    and free; else cut at a word boundary and marked with the department's ``code``
    ("Secondary and Technical (SEDU)"), which also keeps it unique. ``taken``: the other
    tabs' titles, casefolded."""
    base = _cleaned(name) or code
    if is_valid_title(base) and base.casefold() not in taken:
        return base
    for suffix in (f" ({code})", *(f" ({code} {n})" for n in range(2, 100))):
        title = _cut(base, TITLE_LIMIT - title_length(suffix)) + suffix
        if title.casefold() not in taken and is_valid_title(title):
            return title
    raise ValueError(f"no free tab title for {code}")  # pragma: no cover - 98 tabs of one code


def _cleaned(name: str) -> str:
    return " ".join(_BAD.sub(" ", name).split()).strip("'").strip()


def _cut(text: str, room: int) -> str:
    """``text`` shortened to at most ``room`` UTF-16 units, at a word boundary where one
    is near, without a dangling connector or an unclosed parenthesis."""
    if title_length(text) <= room:
        return text
    words: list[str] = []
    for word in text.split(" "):
        if title_length(" ".join([*words, word])) > room:
            break
        words.append(word)
    while words and (words[-1].casefold() in _DANGLING or "(" in words[-1] and ")" not in words[-1]):
        words.pop()
    if words:
        return " ".join(words).strip("'").rstrip()
    # One long word: cut it by characters, never inside an emoji's surrogate pair.
    out = ""
    for ch in text:
        if title_length(out + ch) > room:
            break
        out += ch
    return out.strip("'").rstrip() or text[:1]
