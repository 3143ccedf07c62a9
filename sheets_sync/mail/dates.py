"""The planned publication date a message states, and the request codes it quotes.

Dates are written the Indian way, day first, in Marathi, Hindi or English, with
Devanagari or Latin digits: "दि. ५ डिसेंबर २०२६", "5 Dec 2026", "5th December,
2026", "December 5, 2026", "05/12/2026", "5.12.26", "2026-12-05", and without a
year ("५ डिसेंबर रोजी": the next 5 December, or one up to 60 days past). A message
often holds several (the letter's own date, a meeting, the event): a date
after a publication cue ("publish on", "प्रसिद्धी") wins, then one after an
event cue ("programme on", "कार्यक्रम"), else the first that is not before the
day the message came. Only the sender's own words count, never a quoted or
forwarded message (``quoting``); the subject counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sheets_sync.mail.quoting import own_text

_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")

_MONTHS = {
    1: ["january", "jan", "जानेवारी", "जानेवरी", "जनवरी"],
    2: ["february", "feb", "फेब्रुवारी", "फेब्रुवरी", "फरवरी"],
    3: ["march", "mar", "मार्च"],
    4: ["april", "apr", "एप्रिल", "अप्रैल", "अप्रिल"],
    5: ["may", "मे", "मई"],
    6: ["june", "jun", "जून"],
    7: ["july", "jul", "जुलै", "जुलाई"],
    8: ["august", "aug", "ऑगस्ट", "आॅगस्ट", "ओगस्ट", "अगस्त"],
    9: ["september", "sept", "sep", "सप्टेंबर", "सप्टेम्बर", "सितंबर", "सितम्बर"],
    10: ["october", "oct", "ऑक्टोबर", "आॅक्टोबर", "ओक्टोबर", "अक्टूबर", "अक्तूबर"],
    11: ["november", "nov", "नोव्हेंबर", "नोव्हेम्बर", "नवंबर", "नवम्बर"],
    12: ["december", "dec", "डिसेंबर", "डिसेम्बर", "दिसंबर", "दिसम्बर"],
}
_MONTH_OF = {name: month for month, names in _MONTHS.items() for name in names}
_MONTH = "|".join(sorted(map(re.escape, _MONTH_OF), key=len, reverse=True))
# Not inside a longer number or a Latin word; Marathi joins postpositions to a year
# ("२०२६पर्यंत", "2026रोजी"), so a letter after one is fine. (\b would fail anyway after
# Devanagari vowel signs, which are not word characters.)
_L, _R = r"(?<![0-9A-Za-z])", r"(?![0-9])"

_PATTERNS = [
    # 2026-12-05
    ("ymd", re.compile(_L + r"(\d{4})-(\d{1,2})-(\d{1,2})" + _R)),
    # 05/12/2026, 5.12.26, 5-12-2026 (day first, as India writes it)
    ("dmy", re.compile(_L + r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})" + _R)),
    # 5 Dec 2026, 5th December, 2026, ५ डिसेंबर २०२६, 5 of December 2026
    ("d_m_y", re.compile(_L + r"(\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?(" + _MONTH + r")\.?,?\s*(\d{4})"
                         + _R, re.I)),
    # December 5, 2026
    ("m_d_y", re.compile(_L + r"(" + _MONTH + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _R, re.I)),
    # 5 December, ५ डिसेंबर रोजी, ५ डिसेंबरला: no year (the next such day is meant). Not followed
    # by a Latin letter ("5 decorations") or a Devanagari sign ("५ में" is Hindi "in", not May).
    ("d_m", re.compile(_L + r"(\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?(" + _MONTH
                       + r")(?![A-Za-z\u0900-\u0903\u093A-\u094F\u0962\u0963])", re.I)),
]
# A day and month without a year this long before the message are next year's.
_YEARLESS_PAST = timedelta(days=60)

_PUBLISH_CUES = re.compile(
    r"publish|publication|post(?:ed)?\s+on|go(?:es)?\s+live|release|upload|"
    r"प्रसिद्ध|प्रसिध्द|प्रकाशन|प्रकाशित|पोस्ट\s*कर|प्रसारित|प्रसारण", re.I)
_EVENT_CUES = re.compile(
    r"event|programme|program|launch|inaugurat|starts?|begins?|held\s+on|"
    r"कार्यक्रम|उद्घाटन|शुभारंभ|सुरू|सुरु|आयोजन|आयोजित|कार्यक्रम", re.I)
# How far before a date a cue may stand and still be about it.
_CUE_REACH = 60


@dataclass(frozen=True)
class Found:
    when: date
    start: int  # position in the searched text
    cue: int  # 2 publication, 1 event, 0 none
    end: int = 0  # where the date's words end


def find_dates(text: str, *, received: date | None = None) -> list[Found]:
    """Every valid date in ``text``, in order, with the cue that precedes it.

    A day and month without a year ("५ डिसेंबर रोजी") count only when ``received``
    (the day the message came) says which year they are in.
    """
    plain = text.translate(_DIGITS)  # the same length: positions stay valid
    found: dict[int, Found] = {}
    taken: list[range] = []
    for kind, pattern in _PATTERNS:
        if kind == "d_m" and received is None:
            continue
        for m in pattern.finditer(plain):
            if any(m.start() in span for span in taken):
                continue
            when = _yearless(m.groups(), received) if kind == "d_m" else _date(kind, m.groups())
            if when is None:
                continue
            taken.append(range(m.start(), m.end()))
            found[m.start()] = Found(when, m.start(), _cue(plain, m.start()), m.end())
    return [found[k] for k in sorted(found)]


def _date(kind: str, groups: tuple[str, ...]) -> date | None:
    if kind == "ymd":
        y, m, d = groups
    elif kind == "dmy":
        d, m, y = groups
    elif kind == "d_m_y":
        d, name, y = groups
        m = str(_MONTH_OF[name.lower()])
    else:
        name, d, y = groups
        m = str(_MONTH_OF[name.lower()])
    year = int(y) + (2000 if len(y) == 2 else 0)
    try:
        return date(year, int(m), int(d))
    except ValueError:
        return None  # 31/02/2026, 2026-13-01: not a date


def _yearless(groups: tuple[str, ...], received: date | None) -> date | None:
    day, name = groups
    if name == "may" or received is None:
        return None  # "5 may attend": the English verb, not the month
    month = _MONTH_OF[name.lower()]
    for year in (received.year, received.year + 1):
        try:
            when = date(year, month, int(day))
        except ValueError:
            continue  # 29 February of a common year
        if when >= received - _YEARLESS_PAST:
            return when
    return None


def _cue(text: str, start: int) -> int:
    # Within the same line, shortly before the date.
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - _CUE_REACH):start]
    if _PUBLISH_CUES.search(before):
        return 2
    if _EVENT_CUES.search(before):
        return 1
    return 0


def planned_date(subject: str, text: str, *, received: date) -> date | None:
    """The publication date the sender states, or None.

    ``received`` is the day the message came (IST): a date without a cue counts
    only when it is not before it (a letter's own date is not a plan).
    """
    candidates = find_dates(subject, received=received) + find_dates(own_text(text), received=received)
    if not candidates:
        return None
    best = max(c.cue for c in candidates)
    if best:
        return next(c.when for c in candidates if c.cue == best)
    return next((c.when for c in candidates if c.when >= received), None)


_CODE_RE = re.compile(r"(?<![A-Za-z0-9])CR-(\d{4,})(?![A-Za-z0-9])", re.I)


def codes(subject: str, text: str) -> tuple[str, ...]:
    """Request codes ("CR-0042") in the subject and the whole text, in order, once each.

    Quoted text counts here: a head's answer usually quotes the request it answers.
    """
    found = [f"CR-{m.group(1)}" for m in _CODE_RE.finditer(f"{subject}\n{text}".translate(_DIGITS))]
    return tuple(dict.fromkeys(found))
