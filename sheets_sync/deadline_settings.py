"""The schema's ``deadlines:`` section, checked: every problem reported at once, each
with its line, so a typo is a clear error instead of a silently wrong deadline.

:func:`sheets_sync.deadlines.deadline_rules` is the way in; this module turns the
mapping into :class:`~sheets_sync.deadlines.DeadlineRules`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sheets_sync.deadlines import WEEKDAYS, DeadlineRules
from sheets_sync.errors import ConfigError
from sheets_sync.schema import Schema, normalize_header

DEADLINE_KEYS = ("office_hours_only", "working_days", "saturdays_off", "office_hours", "public_holidays",
                 "extra_holidays", "escalate_after", "due_soon_at", "no_reply_statuses", "departments")


def parse_deadlines(raw: Any, schema: Schema, loc=None) -> DeadlineRules:
    """Validate a ``deadlines:`` mapping; every problem reported at once with its line."""
    problems: list[str] = []

    def problem(keys: tuple, text: str) -> None:
        where = loc.where("deadlines", *keys) if loc is not None else f"{schema.path}: deadlines"
        problems.append(f"{where}: {text}")

    if not isinstance(raw, dict):
        raise ConfigError(f"{loc.where('deadlines') if loc else schema.path}: 'deadlines' must be a "
                          "mapping (office_hours_only, working_days, office_hours, …)")
    for k in raw:
        if k not in DEADLINE_KEYS:
            problem((k,), f"unknown setting {k!r} under deadlines; known: {', '.join(DEADLINE_KEYS)}")
    kw: dict[str, Any] = {}
    for name, parse in _SETTINGS:
        if name in raw:
            kw.update(parse(name, raw[name], schema, problem))
    rules = DeadlineRules(**kw)
    if not rules.working_days:
        problem(("working_days",), "working_days must name at least one day")
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{schema.path}: {len(problems)} problems in deadlines: " + "; ".join(problems))
    return rules


# Each setting's parser: (its name, its value, the schema, problem) → DeadlineRules fields.


def _true_or_false(name: str, value, schema: Schema, problem) -> dict:
    if not isinstance(value, bool):
        problem((name,), f"{name} must be true or false")
        return {}
    return {name: value}


def _working_days(name: str, value, schema: Schema, problem) -> dict:
    days = _weekdays(value)
    if days is None:
        problem((name,), "working_days must list days like [Mon, Tue, Wed, Thu, Fri]")
        return {}
    return {"working_days": days}


def _saturdays_off(name: str, value, schema: Schema, problem) -> dict:
    value = value or []
    if not isinstance(value, list) or any(isinstance(n, bool) or n not in (1, 2, 3, 4, 5) for n in value):
        problem((name,), "saturdays_off lists which Saturdays of the month are off, e.g. [2, 4]")
        return {}
    return {"saturdays_off": frozenset(value)}


def _office_hours(name: str, hours, schema: Schema, problem) -> dict:
    if not isinstance(hours, dict) or set(hours) != {"start", "end"}:
        problem((name,), 'office_hours needs start and end, e.g. {start: "09:45", end: "18:15"}')
        return {}
    start, end = _clock(hours["start"]), _clock(hours["end"])
    if start is None:
        problem((name, "start"), f"office_hours start {hours['start']!r} must be "
                'a time in quotes, e.g. "09:45"')
    if end is None:
        problem((name, "end"), f"office_hours end {hours['end']!r} must be "
                'a time in quotes, e.g. "18:15"')
    if not (start and end):
        return {}
    if start >= end:
        problem((name,), "office_hours: start must be before end")
    return {"office_start": start, "office_end": end}


def _extra_holidays(name: str, value, schema: Schema, problem) -> dict:
    value = value or []
    if not isinstance(value, list) or not all(isinstance(d, date) for d in value):
        problem((name,), "extra_holidays lists dates like 2026-11-09 (no quotes)")
        return {}
    return {"extra_holidays": frozenset(value)}


def _escalate_after(name: str, value, schema: Schema, problem) -> dict:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 1:
        problem((name,), "escalate_after must be a number above 1 (2 = twice the deadline)")
        return {}
    return {"escalate_after": float(value)}


def _due_soon_at(name: str, value, schema: Schema, problem) -> dict:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        problem((name,), "due_soon_at must be a share of the deadline between 0 and 1 "
                "(0.75: due soon once three quarters of the time to reply are gone)")
        return {}
    return {"due_soon_at": float(value)}


def _no_reply_statuses(name: str, value, schema: Schema, problem) -> dict:
    value = value or []
    names = [v for v in value if isinstance(v, str)] if isinstance(value, list) else None
    if names is None or len(names) != len(value):
        problem((name,), "no_reply_statuses must list status names")
        return {}
    for i, status_name in enumerate(names):
        status = schema.status(status_name)
        if status is None or status.open:
            problem((name, i), f"{status_name!r} must be one of the schema's statuses with open: false")
    return {"no_reply_statuses": frozenset(normalize_header(n) for n in names)}


def _departments(name: str, value, schema: Schema, problem) -> dict:
    return {"department_hours": _department_hours(value or {}, schema, problem)}


_SETTINGS = (("office_hours_only", _true_or_false), ("public_holidays", _true_or_false),
             ("working_days", _working_days), ("saturdays_off", _saturdays_off),
             ("office_hours", _office_hours), ("extra_holidays", _extra_holidays),
             ("escalate_after", _escalate_after), ("due_soon_at", _due_soon_at),
             ("no_reply_statuses", _no_reply_statuses),
             ("departments", _departments))


def _department_hours(raw, schema: Schema, problem) -> tuple:
    if not isinstance(raw, dict):
        problem(("departments",), "departments maps a department code to {category: hours}, "
                "e.g. SWM: {complaint: 12}")
        return ()
    out = []
    for code, overrides in raw.items():
        if not isinstance(overrides, dict):
            problem(("departments", code), f"{code}: give {{category: hours}}, e.g. {{complaint: 12}}")
            continue
        items = []
        for name, hours in overrides.items():
            category = schema.category(str(name))
            if category is None:
                problem(("departments", code, name), f"{code}: {name!r} is not a category "
                        f"({', '.join(schema.category_names)})")
                continue
            if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
                problem(("departments", code, name), f"{code}: hours for {name} must be a positive number")
                continue
            if any(have == category.name for have, _ in items):
                problem(("departments", code, name), f"{code}: {category.name} is given twice; keep one")
                continue
            items.append((category.name, float(hours)))
        out.append((str(code).strip().upper(), tuple(items)))
    return tuple(out)


def _weekdays(value) -> frozenset[int] | None:
    if not isinstance(value, list):
        return None
    out = set()
    for v in value:
        name = str(v).strip().casefold()[:3]
        if name not in WEEKDAYS:
            return None
        out.add(WEEKDAYS.index(name))
    return frozenset(out)


def _clock(value) -> time | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), "%H:%M").time()
    except ValueError:
        return None




__all__ = ["DEADLINE_KEYS", "parse_deadlines"]
