"""Dates a person types into the local Sheets fake (USER_ENTERED), and how they are shown.

Modelled from Google's documentation, plus one recorded exchange; not from recorded
traffic of each case, so every form and locale not listed here is refused (not
implemented), never guessed:

* A date typed is stored as a number, the days since 1899-12-30 ("Date/time serial
  numbers", the API's concepts guide): UNFORMATTED_VALUE and FORMULA give that
  serial, FORMATTED_VALUE the date as the cell's number format shows it.
* ``2026-12-05`` (ISO) is a date in every locale, and is shown as typed: in the
  recorded ``WorksheetTest.test_get_all_records_value_render_options`` (an en_US
  spreadsheet) ``2020-01-01`` came back ``2020-01-01`` and ``43831``. The fake gives
  it the pattern ``yyyy-mm-dd`` (Sheets' tokens: ``mm`` next to ``yyyy`` and ``dd``
  is the month).
* ``a/b/yyyy`` is read in the order of the spreadsheet's locale: month first in
  en_US (``05/12/2026`` is 12 May), day first in en_IN and en_GB; text when it can
  not be a date in that order (``13/12/2026`` in en_US). It gets a DATE number format
  with no pattern, which the NumberFormat reference says is shown in "a default
  pattern based on the spreadsheet's locale": so the date is shown in the locale as
  it is when read (en_US ``M/d/yyyy``, en_IN and en_GB ``dd/MM/yyyy``), and a change
  of locale (File > Settings) changes how it is shown.
* A cell that has a DATE number format already keeps it (a date typed again shows in
  the cell's format); a date typed into a cell with another number format is refused.

Left out (refused): dates with month names ("5 Dec 2026"), two-digit years, ``.`` and
``-`` between day and month, dates without a year, times, and other locales' orders
and patterns.
"""

from __future__ import annotations

import re
from datetime import date, timedelta


class NotModelled(Exception):
    """What the fake does not model; the model answers it as "not implemented" (a 400)."""

SERIAL_DAY_0 = date(1899, 12, 30)
ISO_PATTERN = "yyyy-mm-dd"
# The locales the fake can type and show dates in: the order a/b/yyyy is read in
# (month first?), and the default date pattern a date without its own is shown in.
LOCALES = {
    "en_US": (True, "M/d/yyyy"),
    "en_IN": (False, "dd/MM/yyyy"),
    "en_GB": (False, "dd/MM/yyyy"),
}

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MONTHS = ("jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|"
           "june|july|august|september|october|november|december")
# What Google would read as a date and the fake does not model: refused, not stored as text.
_WORDED = re.compile(rf"^(\d{{1,2}}(st|nd|rd|th)?\s+({_MONTHS})\.?,?\s+\d{{4}}|"
                     rf"({_MONTHS})\.?\s+\d{{1,2}}(st|nd|rd|th)?,?\s+\d{{4}})$", re.I)
_TOKENS = re.compile(r"yyyy|MM|M|mm|m|dd|d")


def serial(day: date) -> int:
    return (day - SERIAL_DAY_0).days


def typed_date(text: str, locale: str, number_format: dict | None) -> tuple[dict, dict | None] | None:
    """``text`` typed in ``locale`` into a cell of ``number_format``, when it has a date's
    form: (the value Google stores, the number format the cell gets, None to keep its
    own). None: not a date's form (the other rules of typing apply)."""
    stripped = text.strip()
    iso, slashed = _ISO.match(stripped), _SLASHED.match(stripped)
    if not (iso or slashed):
        if _WORDED.match(stripped):
            raise NotModelled(f"USER_ENTERED parsing of {text!r} (send it RAW)")
        return None
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        pattern: str | None = ISO_PATTERN
    else:
        month_first = _locale(locale)[0]
        a, b, year = (int(g) for g in slashed.groups())
        month, day = (a, b) if month_first else (b, a)
        pattern = None  # the locale's own
    try:
        when = date(year, month, day)
    except ValueError:
        return {"stringValue": text}, None  # 13/12/2026 in en_US, 2026-02-30: text, as typed
    if number_format is not None:
        if number_format.get("type") != "DATE":
            raise NotModelled(f"USER_ENTERED date {text!r} into a cell formatted {number_format!r}")
        return {"numberValue": serial(when)}, None
    return {"numberValue": serial(when)}, {"type": "DATE", **({"pattern": pattern} if pattern else {})}


def is_date(number_format: dict | None) -> bool:
    return bool(number_format) and number_format.get("type") == "DATE"


def shown_date(value: float, number_format: dict, locale: str) -> str:
    """A serial as a DATE number format shows it: its own pattern, else the locale's."""
    pattern = number_format.get("pattern") or _locale(locale)[1]
    day = SERIAL_DAY_0 + timedelta(days=int(value // 1))
    parts = {"yyyy": f"{day.year:04d}", "MM": f"{day.month:02d}", "M": str(day.month),
             "mm": f"{day.month:02d}", "m": str(day.month), "dd": f"{day.day:02d}", "d": str(day.day)}
    if re.search(r"[hHsS]|a/p|am/pm|mmm|ddd", pattern):
        raise NotModelled(f"date pattern {pattern!r}")
    return _TOKENS.sub(lambda m: parts[m.group(0)], pattern)


def _locale(locale: str) -> tuple[bool, str]:
    if locale not in LOCALES:
        raise NotModelled(f"dates in the locale {locale!r} (only {', '.join(LOCALES)})")
    return LOCALES[locale]
