"""Where the sender's own words end and a quoted or forwarded message begins.

Mail keeps everything as text (a forwarded press note is the material); but
a date, an "APPROVE" or a code in the quoted part was written by someone else,
earlier, and must not be read as the sender's. The markers are the ones mail
programs write: ``>`` quotes, "On … wrote:" (Gmail's Marathi "… यांनी
लिहिले:" and Hindi "… ने लिखा:" too), Outlook's "From: / Sent:" block and
its rule of underscores, and the forwarded-message separators.
"""

from __future__ import annotations

import re

_MARKERS = [
    re.compile(r"^>", re.M),
    re.compile(r"^-{2,}\s*(Original Message|Forwarded message|Forwarded Message)\s*-{2,}", re.M | re.I),
    re.compile(r"^Begin forwarded message:", re.M | re.I),
    re.compile(r"^-{2,}\s*(मूळ संदेश|अग्रेषित संदेश|फॉरवर्ड केलेला संदेश|अग्रेषित मैसेज)\s*-{2,}", re.M),
    re.compile(r"^_{10,}\s*$", re.M),
    # "On Mon, 1 Dec 2026 at 10:00, Name <a@b> wrote:" — Gmail may wrap it onto two lines.
    re.compile(r"^On\b[^\n]{0,300}(\n[^\n]{0,200})?\bwrote:\s*$", re.M),
    re.compile(r"^[^\n]{0,300}(यांनी लिहिले|ने लिखा)\s*:\s*$", re.M),
    re.compile(r"^(From|प्रेषक)\s*:[^\n]*\n(Sent|Date|पाठवले|दिनांक)\s*:", re.M),
]


def split_quoted(text: str) -> tuple[str, str]:
    """``(own, quoted)``: the sender's words, and from the first quote marker on."""
    start = len(text)
    for marker in _MARKERS:
        found = marker.search(text)
        if found and found.start() < start:
            start = found.start()
    return text[:start].rstrip(), text[start:]


def own_text(text: str) -> str:
    """The part of a message's text its sender wrote (above any quote or forward)."""
    return split_quoted(text)[0]
