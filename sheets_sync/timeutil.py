"""Times: parsed from what sources give, stored in IST in a form people read and sort."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")

# What the tracker shows: sortable as text, readable, minutes are precise enough
# for reply deadlines counted in hours.
SHEET_FORMAT = "%Y-%m-%d %H:%M"

# Graph API writes offsets without a colon ("+0000"); fromisoformat in 3.11
# accepts that, but not a space-separated "+05:30" suffix or lower-case "z".
_OFFSET_RE = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})$")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 time that carries an offset; raise ValueError otherwise."""
    text = text.strip()
    if not _OFFSET_RE.search(text):
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2026-11-20T10:15:00+05:30)")
    shown = text
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        # "month must be in 1..12" alone does not say which value was wrong.
        reason = "" if "isoformat" in str(exc) else f" ({exc})"
        raise ValueError(f"{shown!r} is not a valid date and time{reason}; "
                         "write e.g. 2026-11-20T10:15:00+05:30") from None
    if value.tzinfo is None:  # pragma: no cover - guarded by the regex above
        raise ValueError(f"{text!r} has no UTC offset")
    return value


def to_sheet(value: datetime) -> str:
    """Format an aware datetime as the tracker shows it (IST)."""
    return value.astimezone(IST).strftime(SHEET_FORMAT)


def from_sheet(text: str) -> datetime | None:
    """Read a time the tracker shows (IST); None when empty or unreadable.

    People may retype a time, so seconds and an ISO ``T`` are accepted too.
    """
    text = text.strip()
    if not text:
        return None
    if len(text) == 16 and text[4] == text[7] == "-" and text[10] == " " and text[13] == ":":
        # The tracker's own format, read 100,000 times a run: without strptime.
        try:
            return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                            int(text[14:16]), tzinfo=IST)
        except ValueError:
            pass
    for fmt in (SHEET_FORMAT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """A time a person types for an option (--as-of, --since, --until): ISO 8601 with an
    offset, or a plain time (``2026-11-26T18:00``, ``2026-11-26 18:00``) in IST, or a plain
    date: the start of that IST day, or with ``end_of_day`` its end (the next day's start).
    Raise ValueError saying what to write otherwise."""
    stripped = text.strip()
    try:
        day = datetime.strptime(stripped, "%Y-%m-%d").replace(tzinfo=IST)
    except ValueError:
        pass
    else:
        return day + timedelta(days=1) if end_of_day else day
    if _OFFSET_RE.search(stripped):
        return parse_timestamp(stripped)
    found = from_sheet(stripped)
    if found is None:
        raise ValueError(f"{text!r}: give a date (2026-11-20), an IST time (2026-11-20 10:00) "
                         "or ISO 8601 with an offset")
    return found


def now_ist() -> datetime:
    return datetime.now(IST)
