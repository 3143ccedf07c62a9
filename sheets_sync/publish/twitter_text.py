"""X's count of a post's length: twitter-text's weighted length (version 3).

The text is NFC-normalised, then counted per code point: those in the light
ranges (U+0000–U+10FF — Latin, Devanagari and most scripts of India — and a few
punctuation marks of U+2000–U+2037) weigh 1, every other code point 2 (CJK,
most symbols); an emoji weighs 2 however many code points make it (skin tones,
ZWJ families, flags, keycaps); and each link weighs 23, whatever its length,
since X shortens it to a t.co link. The limit is 280.

Links are found as twitter-text finds most of them: ``http(s)://…``, ``www.…``,
and bare domains with a common top-level domain (``pmc.gov.in/water``);
trailing punctuation is not part of a link.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_TLDS = "com|org|net|in|gov|edu|info|io|co|me|ly|app|dev|news|online|site|org\\.in|co\\.in"
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"]+"
    rf"|(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:[/?#][^\s<>\"]*)?",
    re.IGNORECASE | re.ASCII,
)
_TRAILING = re.compile(r"[.,;:!?'\")\]]+$")
# What joins an emoji into one: variation selectors, the keycap, skin tones, tags.
_JOINERS = {0xFE0E, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)}
_ZWJ = 0x200D


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (the limit is :data:`MAX_WEIGHTED_LENGTH`)."""
    text = unicodedata.normalize("NFC", text)
    total, last = 0, 0
    for link in _URL.finditer(text):
        url = _TRAILING.sub("", link.group())
        total += _weigh(text[last:link.start()]) + URL_WEIGHT
        last = link.start() + len(url)
    return total + _weigh(text[last:])


def _is_emoji(cp: int) -> bool:
    return (0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF
            or 0x2300 <= cp <= 0x23FF or cp in (0x3030, 0x303D, 0x3297, 0x3299))


def _weight(cp: int) -> int:
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT) else 2


def _weigh(text: str) -> int:
    points = [ord(c) for c in text]
    total, i = 0, 0
    while i < len(points):
        end = _emoji_end(points, i)
        if end is None:
            total += _weight(points[i])
            i += 1
        else:
            total += 2
            i = end
    return total


def _emoji_end(points: list[int], i: int) -> int | None:
    """Where the emoji starting at ``i`` ends, or None when none starts there."""
    first = points[i]
    if 0x1F1E6 <= first <= 0x1F1FF:  # a flag is two regional indicators
        pair = i + 1 < len(points) and 0x1F1E6 <= points[i + 1] <= 0x1F1FF
        return i + 2 if pair else i + 1
    j, joined = i + 1, False
    while j < len(points):
        if points[j] in _JOINERS:
            j, joined = j + 1, True
        elif points[j] == _ZWJ and _is_emoji(first) and j + 1 < len(points) and _is_emoji(points[j + 1]):
            j += 2
        else:
            break
    # A digit, #, ©… becomes an emoji only with its variation selector or keycap.
    return j if _is_emoji(first) or joined else None
