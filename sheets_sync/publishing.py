"""Publishing approved replies: which rows to record as approved, to post, to check, to
hide. Planning only, no I/O (the platform calls are in :mod:`sheets_sync.publishing_run`).

The Comments tab's columns of it: **Approve** (people: the cell's tick), and the job's
**Approved** (what the job recorded of the approval: the reply's fingerprint, ``shown``
or ``approved``, and when), **Publish** (the state, in words people read), **Reply id**
and **Reply link**. A tick approves the reply text the job had shown as waiting for
approval, and only that text: a reply changed since needs a new tick.

Exactly once: a run writes ``sending since … (attempt …)`` in its normal write before it
posts; a row found ``sending`` by a later run is never posted blindly, it is looked up on
the platform (:func:`checks_needed`, ``Publisher.find_reply``) first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sheets_sync.errors import ConfigError
from sheets_sync.publish.base import Posted, Reply
from sheets_sync.schema import Schema
from sheets_sync.timeutil import from_sheet, to_sheet
from sheets_sync.yamlfile import load_yaml

#: The Comments tab's publishing columns: a tracker without them still syncs.
FIELDS = ("approve", "approved", "publish", "reply_id", "reply_url")
HIDE_STATUS = "Hide"
TICKED = frozenset({"true", "yes", "y", "1", "x", "✓", "✔", "☑"})
#: Refusals that another try does not cure: the reply waits for a new text or approval.
PERMANENT = frozenset({"too_long", "gone", "not_allowed"})

SETTINGS = ("publish_without_approval", "settle_minutes", "margin_minutes", "pace_seconds")
WAITING = "waiting for approval"
CHANGED_AFTER = "reply changed after approval: approve again"
CHANGED_BEFORE = "reply changed since it was shown for approval: approve again"
_INTENT = re.compile(r"^sending since (\d{4}-\d\d-\d\d \d\d:\d\d) \(attempt (\w+)\)")
_REFUSED = re.compile(r"^refused \((\w+)\)")
_APPROVED = re.compile(r"^([0-9a-f]{10}) (shown|approved) (\d{4}-\d\d-\d\d \d\d:\d\d)$")


@dataclass(frozen=True)
class Settings:
    """The schema's ``publishing:`` section."""

    without_approval: frozenset[str] = frozenset()  # department codes
    settle: timedelta = timedelta(minutes=10)  # a reply not found this long after its intent did not land
    margin: timedelta = timedelta(minutes=5)  # looked for from this long before its intent
    pace_seconds: float = 2.0  # between two calls to one platform


def publishing_settings(schema: Schema) -> Settings:
    """The ``publishing:`` section, checked; a problem names its ``file:line``."""
    raw = schema.extra.get("publishing") or {}

    def fail(keys: tuple, text: str):
        return ConfigError(f"{_where(schema, ('publishing', *keys))}: publishing: {text} "
                           "(see the README, Publishing replies)")

    if not isinstance(raw, Mapping):
        raise fail((), "must be a mapping")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise fail((unknown[0],), f"unknown setting {unknown[0]!r}")
    codes = raw.get("publish_without_approval") or []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise fail(("publish_without_approval",), "publish_without_approval must be a list of department "
                   "codes, e.g. [SWM]")

    def number(name: str, default: float) -> float:
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise fail((name,), f"{name} must be a number of at least 0, not {value!r}")
        return float(value)

    return Settings(frozenset(c.strip().upper() for c in codes),
                    timedelta(minutes=number("settle_minutes", 10)),
                    timedelta(minutes=number("margin_minutes", 5)), number("pace_seconds", 2))


def _where(schema: Schema, keys: tuple) -> str:
    try:
        return load_yaml(schema.path, "schema")[1].where(*keys)
    except (ConfigError, OSError, TypeError):
        return str(schema.path)


@dataclass(frozen=True)
class Platform:
    """What planning needs of a publisher: how it counts a reply's length (pure)."""

    name: str
    max_length: int
    length: Callable[[str], int]


def platforms_of(publishers: Mapping[str, object]) -> dict[str, Platform]:
    return {name: Platform(name, p.max_length, p.length) for name, p in publishers.items()}


def fingerprint(text: str) -> str:
    """A short mark of the reply text approved: a change of one character changes it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Intent:
    at: datetime
    attempt: str


def parse_intent(publish: str) -> Intent | None:
    match = _INTENT.match(publish.strip())
    at = from_sheet(match.group(1)) if match else None
    return Intent(at, match.group(2)) if match and at else None


def intent_text(now: datetime, attempt: str) -> str:
    return f"sending since {to_sheet(now)} (attempt {attempt})"


@dataclass(frozen=True)
class Approval:
    fp: str
    kind: str  # "shown" (waiting for the tick) or "approved"
    at: str


def parse_approval(text: str) -> Approval | None:
    match = _APPROVED.match(text.strip())
    return Approval(*match.groups()) if match else None


def is_posted(row: Mapping[str, str]) -> bool:
    return bool(row.get("reply_id", "").strip()) or row.get("publish", "").startswith("posted")


def is_ticked(value: str) -> bool:
    return value.strip().casefold() in TICKED


def reply_of(key: tuple, row: Mapping[str, str]) -> Reply:
    return Reply(platform=key[0], comment_id=key[1], post_id=row.get("post_id", "").strip(),
                 parent_id=row.get("parent_id", "").strip(), author=row.get("author", "").strip(),
                 text=row.get("reply", "").strip())


@dataclass(frozen=True)
class Check:
    """A row some earlier run was sending: look on the platform before anything else."""

    key: tuple
    reply: Reply
    since: datetime


def checks_needed(rows: Mapping[tuple, Mapping[str, str]], platforms: Mapping[str, Platform],
                  settings: Settings, attempt: str) -> list[Check]:
    """The rows whose reply may have landed (an intent of another run, not recorded as
    posted), with the reply as it was approved; read before planning."""
    out = []
    for key, row in rows.items():
        intent = parse_intent(row.get("publish", ""))
        if intent is None or intent.attempt == attempt or key[0] not in platforms or is_posted(row):
            continue
        reply = reply_of(key, row)
        approval = parse_approval(row.get("approved", ""))
        if approval is not None and approval.fp == fingerprint(reply.text):
            out.append(Check(key, reply, intent.at - settings.margin))
    return out


@dataclass(frozen=True)
class Action:
    kind: str  # "post", "hide" or "show"
    key: tuple
    reply: Reply
    department: str


@dataclass(frozen=True)
class Inputs:
    """What :func:`plan_publishing` is given besides the rows: the platforms that publish,
    the settings, this run's attempt id, and what the checks found (a Posted, None for not
    found, or the text of the error that kept the job from knowing)."""

    platforms: Mapping[str, Platform]
    settings: Settings
    attempt: str
    found: Mapping[tuple, Posted | None | str] = field(default_factory=dict)
    #: Intents the publishing journal holds for rows that show none (a copy saved over
    #: the run's record): settled like the tracker's own (sheets_sync/publishing_journal.py).
    journal: Mapping[tuple, Intent] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishPlan:
    attempt: str
    actions: tuple[Action, ...] = ()
    recovered: tuple[tuple, ...] = ()  # rows found posted by an earlier run
    warnings: tuple[str, ...] = ()


def plan_publishing(rows, inputs: Inputs, schema: Schema, now: datetime) -> PublishPlan:
    """Each publishing row's new state in ``rows`` (a :class:`flags.CommentRows`), and the
    platform calls to make once the run's write has recorded the intents."""
    ctx = _Context(rows, inputs, schema, now)
    for key in list(rows.rows):
        if key[0] in inputs.platforms and key not in rows.new:
            action = ctx.plan_row(key)
            if action is not None:
                ctx.actions.append(action)
    return PublishPlan(inputs.attempt, tuple(ctx.actions), tuple(ctx.recovered), tuple(ctx.warnings))


class _Context:
    def __init__(self, rows, inputs: Inputs, schema: Schema, now: datetime) -> None:
        self.rows, self.inputs, self.schema, self.now = rows, inputs, schema, now
        self.stamp = to_sheet(now)
        self.actions: list[Action] = []
        self.recovered: list[tuple] = []
        self.warnings: list[str] = []

    def set(self, key: tuple, name: str, value: str) -> None:
        if self.rows[key].get(name, "") != value:
            self.rows.set(key, name, value)

    def plan_row(self, key: tuple) -> Action | None:
        row = self.rows[key]
        if not is_posted(row):
            intent = parse_intent(row.get("publish", "")) or self.inputs.journal.get(key)
            if intent is not None and intent.attempt != self.inputs.attempt and not self._lapsed(key, intent):
                return None  # still sending, or found posted now
        row = self.rows[key]
        hide = self._hide(key, row)
        if hide is not None or _status(row) == HIDE_STATUS.casefold():
            return hide
        if is_posted(row):
            self._posted_text(key, row)
            return None
        return self._approval(key, row)

    # -- an earlier run's intent -------------------------------------------------------
    def _lapsed(self, key: tuple, intent: Intent) -> bool:
        """Settles a row an earlier run was sending: True when that attempt did not land."""
        found = self.inputs.found.get(key, "")
        if isinstance(found, Posted):
            record_posted(self.rows, key, found, self.schema)
            self.recovered.append(key)
            return False
        if found is None:
            # Not there: it did not land, once the platform has had time to show it.
            return self.now - intent.at >= self.inputs.settings.settle
        if key not in self.inputs.found:
            note = ("the Reply cell changed while its earlier text was being sent; whether that one "
                    "reached the platform is unknown: look under the comment (Link), then clear Publish "
                    "to send the new text after approval")
        else:
            note = f"could not check whether the reply reached {key[0]} ({found}); checked again next run"
        self.rows.note(key, note)
        self.rows.warn(key, note)
        return False

    # -- hiding ------------------------------------------------------------------------
    def _hide(self, key: tuple, row: Mapping[str, str]) -> Action | None:
        hidden = row.get("publish", "").startswith("hidden")
        wanted = _status(row) == HIDE_STATUS.casefold()
        if wanted == hidden:
            return None
        reply = Reply(key[0], key[1], row.get("post_id", "").strip(), row.get("parent_id", "").strip(),
                      row.get("author", "").strip(), "")
        return Action("hide" if wanted else "show", key, reply, row.get("department", "").strip())

    def _posted_text(self, key: tuple, row: Mapping[str, str]) -> None:
        approval = parse_approval(row.get("approved", ""))
        text = row.get("reply", "").strip()
        if approval is not None and approval.kind == "approved" and text and approval.fp != fingerprint(text):
            self.rows.note(key, "the Reply cell now differs from the reply posted on the platform "
                                "(see Reply link); the platform keeps what was posted")

    # -- approval ----------------------------------------------------------------------
    def _approval(self, key: tuple, row: Mapping[str, str]) -> Action | None:
        text = row.get("reply", "").strip()
        if not text:
            for name in ("publish", "approved"):
                self.set(key, name, "")
            return None
        platform = self.inputs.platforms[key[0]]
        length = platform.length(text)
        if length > platform.max_length:
            self.set(key, "publish",
                     f"too long for {_platform_name(key[0])}: {length} of {platform.max_length}")
            self.set(key, "approved", "")
            self._untick(key, row)
            return None
        state, approval, untick = self._decide(row, fingerprint(text))
        self.set(key, "approved", approval)
        if untick:
            self._untick(key, row)
        if state != "post":
            self.set(key, "publish", state)
            return None
        refused = _REFUSED.match(row.get("publish", ""))
        if refused and refused.group(1) in PERMANENT and approval == row.get("approved", ""):
            return None  # refused for good: waits for a new text or a new tick
        self.set(key, "publish", intent_text(self.now, self.inputs.attempt))
        return Action("post", key, reply_of(key, row), row.get("department", "").strip())

    def _decide(self, row: Mapping[str, str], fp: str) -> tuple[str, str, bool]:
        """(the state or "post", the Approved record, untick the Approve cell?)."""
        have = parse_approval(row.get("approved", ""))
        ticked = is_ticked(row.get("approve", ""))
        shown = f"{fp} shown {self.stamp}"
        approved_now = f"{fp} approved {self.stamp}"
        if row.get("department", "").strip().upper() in self.inputs.settings.without_approval:
            keep = have is not None and have.kind == "approved" and have.fp == fp
            return "post", (row["approved"] if keep else approved_now), False
        if have is not None and have.kind == "approved":
            if have.fp != fp:
                return CHANGED_AFTER, shown, ticked
            return ("post", row["approved"], False) if ticked else (WAITING, shown, False)
        if ticked:
            if have is not None and have.fp == fp:
                return "post", approved_now, False
            # Ticked before the job showed this text: the tick may be for another text.
            return CHANGED_BEFORE, shown, True
        keep = have is not None and have.fp == fp
        return WAITING, (row["approved"] if keep else shown), False

    def _untick(self, key: tuple, row: Mapping[str, str]) -> None:
        # The tick approves nothing (another text, or one too long): cleared, so that the
        # next tick is the cell's approval of the text it then sees. Written under the
        # run's lock, like every cell of the run's first write.
        if is_ticked(row.get("approve", "")):
            self.set(key, "approve", "")


def record_posted(rows, key: tuple, posted: Posted, schema: Schema) -> None:
    """A reply the platform holds, on its row: Publish, Reply id and link, Replied at, and
    Status Replied unless a person chose another (Escalated keeps it open)."""
    for name, value in posted_values(rows[key], posted, schema).items():
        if rows[key].get(name, "") != value:
            rows.set(key, name, value)


def posted_values(row: Mapping[str, str], posted: Posted, schema: Schema) -> dict[str, str]:
    at = to_sheet(posted.posted_at)
    values = {"publish": f"posted {at}", "reply_id": posted.reply_id, "reply_url": posted.url,
              "replied_at": at}
    if row.get("status", "").strip() in ("", schema.default_status):
        values["status"] = replied_status(schema)
    return values


def replied_status(schema: Schema) -> str:
    for s in schema.statuses:
        if s.name.casefold() == "replied":
            return s.name
    return next(s.name for s in schema.statuses if not s.open)


def _status(row: Mapping[str, str]) -> str:
    return row.get("status", "").strip().casefold()


def _platform_name(platform: str) -> str:
    return {"x": "X", "youtube": "YouTube"}.get(platform, platform.capitalize())


__all__ = ["Action", "Check", "FIELDS", "Inputs", "Platform", "PublishPlan", "Settings", "checks_needed",
           "fingerprint", "is_posted", "parse_approval", "parse_intent", "plan_publishing",
           "platforms_of", "posted_values", "publishing_settings", "record_posted"]
