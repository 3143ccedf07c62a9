"""The content pipeline's settings: the ``content:`` section of ``sheet_schema.yaml``.

Checked all at once when a job starts, so one run names every wrong setting
(a ConfigError: one line, exit 2, the tracker untouched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sheets_sync.errors import ConfigError
from sheets_sync.schema import Schema, normalize_header

# The statuses whose names the job compares with (the schema may translate the rest, not these).
RECEIVED, IN_DESIGN, SENT, APPROVED, CHANGES, PUBLISHED, WITHDRAWN = (
    "Received", "In design", "Sent for approval", "Approved", "Changes asked", "Published", "Withdrawn")
# The cell asks the department itself for changes or more material (Asked of the department).
ASKED = "Asked of department"
# A schema from before ASKED existed must name these; ASKED is added to its dropdown when missing.
REQUIRED = (RECEIVED, IN_DESIGN, SENT, APPROVED, CHANGES, PUBLISHED, WITHDRAWN)
STATUSES = (RECEIVED, IN_DESIGN, SENT, APPROVED, CHANGES, ASKED, PUBLISHED, WITHDRAWN)
# Done with: nothing waits on the department or the cell any more.
CLOSED = (APPROVED, PUBLISHED, WITHDRAWN)
DEFAULT_KINDS = (("scheme", ("scheme", "योजना")), ("project", ("project", "प्रकल्प")),
                 ("programme", ("programme", "कार्यक्रम")), ("notice", ("notice", "सूचना")),
                 ("press note", ("press note", "प्रसिद्धीपत्रक")), ("other", ()))
DEFAULT_APPROVE = ("approve", "approved", "मंजूर", "मान्य")


@dataclass(frozen=True)
class ContentSettings:
    lead_days: int = 7
    remind_after_hours: float = 24
    nodal_may_approve: bool = False
    code_prefix: str = "CR"
    statuses: tuple[str, ...] = STATUSES
    kinds: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_KINDS
    approve_words: tuple[str, ...] = DEFAULT_APPROVE
    dept_remind_after_hours: float = 24

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.kinds)

    def status(self, typed: str) -> str:
        """A typed status as the job's name for it ("sent for approval " → Sent for approval);
        anything else as typed."""
        wanted = normalize_header(typed)
        return next((s for s in STATUSES if normalize_header(s) == wanted), typed.strip())


def content_settings(schema: Schema) -> ContentSettings:
    """The ``content:`` section, checked; ConfigError naming every wrong setting."""
    raw = schema.extra.get("content")
    if raw is None:
        return ContentSettings()
    where = f"{schema.path}: content"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping (lead_days, remind_after_hours, …)")
    problems: list[str] = []
    lead = _number(raw, "lead_days", 7, problems, whole=True)
    remind = _number(raw, "remind_after_hours", 24, problems)
    # (a schema from before this setting: the head's reminder hours)
    dept_remind = _number(raw, "dept_remind_after_hours", remind, problems)
    nodal = raw.get("nodal_may_approve", False)
    if not isinstance(nodal, bool):
        problems.append(f"nodal_may_approve must be true or false, not {nodal!r}")
    prefix = str(raw.get("code_prefix", "CR")).strip()
    if not re.fullmatch(r"[A-Z]{1,6}", prefix):
        problems.append(f"code_prefix {prefix!r} must be 1 to 6 capital letters (like CR)")
    statuses = tuple(str(s).strip() for s in raw.get("statuses") or STATUSES)
    listed = {normalize_header(t) for t in statuses}
    missing = [s for s in REQUIRED if normalize_header(s) not in listed]
    if normalize_header(ASKED) not in listed:
        statuses += (ASKED,)
    if missing:
        problems.append(f"statuses must include {', '.join(missing)} (the job acts on them)")
    kinds = _kinds(raw.get("kinds"), problems)
    words = raw.get("approve_words") or list(DEFAULT_APPROVE)
    if not isinstance(words, list):
        problems.append("approve_words must be a list of words")
        words = list(DEFAULT_APPROVE)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return ContentSettings(int(lead), float(remind), bool(nodal), prefix, statuses, kinds,
                           tuple(str(w).casefold() for w in words), float(dept_remind))


def _number(raw: dict, name: str, default: float, problems: list[str], *, whole: bool = False) -> float:
    value = raw.get(name, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if not ok or (whole and not float(value).is_integer()):
        what = "a whole number of days" if whole else "a number of hours"
        problems.append(f"{name} must be {what}, not {value!r}")
        return default
    return value


def _kinds(raw, problems: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if raw is None:
        return DEFAULT_KINDS
    if not isinstance(raw, list) or not all(isinstance(k, dict) and str(k.get("name") or "").strip()
                                            for k in raw):
        problems.append("kinds must be a list of {name: …, keywords: […]}")
        return DEFAULT_KINDS
    return tuple((str(k["name"]).strip(), tuple(str(w).casefold() for w in k.get("keywords") or []))
                 for k in raw)
