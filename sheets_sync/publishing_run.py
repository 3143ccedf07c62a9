"""Publishing's platform calls: the look-ups before planning, the posts and hides after the
run's first write (which recorded the intents), and what they came to, as the changes of
the run's one more write. The decisions are :mod:`sheets_sync.publishing`'s.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sheets_sync.publish.base import Posted, Publisher, Refused, Uncertain
from sheets_sync.publishing import (
    Action,
    Check,
    Inputs,
    Intent,
    Platform,
    PublishPlan,
    Settings,
    checks_needed,
    fingerprint,
    is_posted,
    parse_intent,
    platforms_of,
    posted_values,
    reply_of,
)
from sheets_sync.publishing_journal import Journal
from sheets_sync.schema import Schema
from sheets_sync.table import UpdateRow
from sheets_sync.timeutil import to_sheet

log = logging.getLogger(__name__)


def as_publishers(publishers) -> dict[str, Publisher]:
    """Publishers by platform, from a mapping or a list (``open_publishers(...)``)."""
    if publishers is None:
        return {}
    if isinstance(publishers, Mapping):
        return dict(publishers)
    return {p.platform: p for p in publishers}


def run_checks(checks: Sequence[Check],
               publishers: Mapping[str, Publisher]) -> dict[tuple, Posted | None | str]:
    """Ask each platform whether an earlier run's reply landed (reads only)."""
    found: dict[tuple, Posted | None | str] = {}
    for check in checks:
        try:
            found[check.key] = publishers[check.key[0]].find_reply(check.reply, check.since)
        except Exception as exc:  # noqa: BLE001 - not knowing is an answer: the row waits
            found[check.key] = str(exc) or type(exc).__name__
    return found


@dataclass(frozen=True)
class NotTried:
    """An approved reply this run did not send (its platform stopped): it stays queued."""

    why: str


Outcome = Posted | Refused | Uncertain | NotTried | str  # a str: a hide or show done


def perform(actions: Sequence[Action], publishers: Mapping[str, Publisher], settings: Settings, *,
            sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> dict[tuple, Outcome]:
    """One call per action, the platforms taken in turn, each paced: a refusal that stops
    a platform (an expired token, throttling, the day's quota) stops that platform only."""
    out: dict[tuple, Outcome] = {}
    stopped: dict[str, str] = {}
    last: dict[str, float] = {}
    # A run posts only while its intents are young: a run that finds one older than the
    # settle time takes it as not landed and sends it again, so this run must be done by then.
    ends = clock() + settings.settle.total_seconds() / 2
    for action in _in_turn(actions):
        platform = action.key[0]
        wait = last[platform] + settings.pace_seconds - clock() if platform in last else 0
        if wait > 0 and platform not in stopped:
            sleep(wait)
        if platform not in stopped and clock() >= ends:
            stopped[platform] = "this run's time for sending is up"
        if platform in stopped:
            out[action.key] = NotTried(stopped[platform])
            continue
        outcome = _call(publishers[platform], action)
        last[platform] = clock()
        out[action.key] = outcome
        if isinstance(outcome, Refused) and outcome.stops_platform:
            stopped[platform] = f"{platform} refused ({outcome.reason}): {outcome}"
    return out


def _in_turn(actions: Sequence[Action]) -> Iterable[Action]:
    """The actions, one platform after another in turn (their order kept per platform)."""
    queues: dict[str, list[Action]] = {}
    for action in actions:
        queues.setdefault(action.key[0], []).append(action)
    index = 0
    while any(index < len(q) for q in queues.values()):
        for queue in queues.values():
            if index < len(queue):
                yield queue[index]
        index += 1


def _call(publisher: Publisher, action: Action) -> Outcome:
    try:
        if action.kind == "post":
            return publisher.post_reply(action.reply)
        publisher.hide(action.reply, action.kind == "hide")
        return action.kind
    except (Refused, Uncertain) as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - whatever broke, the reply may have landed
        log.warning("%s %s: %s", action.key[0], action.kind, exc)
        if action.kind != "post":
            return Refused("not_allowed", str(exc) or type(exc).__name__)
        return Uncertain(str(exc) or type(exc).__name__)


@dataclass
class Outcomes:
    """What the platform calls came to: the run's last changes, and for people."""

    changes: list[UpdateRow] = field(default_factory=list)
    posted: int = 0
    hidden: int = 0
    refused: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    not_tried: list[str] = field(default_factory=list)
    token_errors: list[str] = field(default_factory=list)  # a platform's write token refused

    def messages(self) -> list[str]:
        """For the Sync Log: every refusal and doubt, and the replies a stopped platform
        left queued counted once per platform (each row says it too)."""
        return [*self.refused, *self.uncertain, *_per_platform(self.not_tried)]


def outcome_changes(plan: PublishPlan, outcomes: Mapping[tuple, Outcome],
                    rows: Mapping[tuple, Mapping[str, str]], schema: Schema, now: datetime) -> Outcomes:
    """The cells to write for each call's outcome (``rows``: the rows as the run's first
    write left them)."""
    out = Outcomes()
    stamp = to_sheet(now)
    for action in plan.actions:
        outcome = outcomes.get(action.key)
        if outcome is None:
            continue  # not reached (cannot happen in one run; kept as sending if it did)
        values = _values(action, outcome, rows[action.key], schema, stamp, out)
        if values:
            out.changes.append(UpdateRow("comments", action.key, values, f"publish: {action.kind}"))
    return out


def _values(action: Action, outcome: Outcome, row: Mapping[str, str], schema: Schema, stamp: str,
            out: Outcomes) -> dict[str, str]:
    name = f"{action.key[0]} comment {action.key[1]}"
    if isinstance(outcome, Posted):
        out.posted += 1
        values = posted_values(row, outcome, schema)
        notes = _renoted(row, "")  # why it waited before is over
        if notes != row.get("sync_notes", "").strip():
            values["sync_notes"] = notes
        return values
    if isinstance(outcome, str):
        out.hidden += 1
        return {"publish": f"{'hidden' if outcome == 'hide' else 'shown again'} {stamp}"}
    if isinstance(outcome, NotTried):
        out.not_tried.append(f"{name}: not sent yet, {outcome.why}; the next run tries again")
        return {"publish": f"approved: not sent yet ({outcome.why}); the next run tries again",
                "sync_notes": _renoted(row, f"{NOT_SENT}{outcome.why}; the next run tries again")}
    if isinstance(outcome, Uncertain):
        text = (f"{action.key[0]} did not answer clearly ({outcome}); the next run looks whether the reply "
                "landed before anything else, and never sends it twice")
        out.uncertain.append(f"{name}: {text}")
        return {"sync_notes": _noted(row, text)}  # Publish keeps its "sending since …"
    if outcome.reason == "token":
        out.token_errors.append(f"{action.key[0]}: {outcome}")
    what = "reply" if action.kind == "post" else action.kind
    out.refused.append(f"{name}: {what} refused ({outcome.reason}): {outcome}")
    note = f"{what} refused by {action.key[0]}: {outcome}"
    values = {"sync_notes": _renoted(row, note) if action.kind == "post" else _noted(row, note)}
    if action.kind == "post":
        values["publish"] = f"refused ({outcome.reason}) {stamp}: {outcome}"
    return values


NOT_SENT = "not sent yet: "
#: The notes of a reply's earlier waits: each new outcome replaces them (the row says
#: why it waits now, not every time it waited).
_WAIT_NOTES = (NOT_SENT, "reply refused by ")


def _renoted(row: Mapping[str, str], text: str) -> str:
    """The row's Sync notes without its earlier waits, and ``text`` (if any) added."""
    kept = [line for line in row.get("sync_notes", "").strip().splitlines()
            if not line.startswith(_WAIT_NOTES)]
    return "\n".join(x for x in (*kept, text) if x)


def _per_platform(not_tried: Sequence[str]) -> list[str]:
    """"x comment C1: not sent yet, <why>; …" lines, one per platform and reason."""
    counts: dict[tuple[str, str], int] = {}
    for line in not_tried:
        platform = line.split(" ", 1)[0]
        why = line.split(": not sent yet, ", 1)[-1]
        counts[(platform, why)] = counts.get((platform, why), 0) + 1
    return [f"{platform}: {n} approved repl{'y' if n == 1 else 'ies'} not sent yet, {why}"
            for (platform, why), n in counts.items()]


def _noted(row: Mapping[str, str], text: str) -> str:
    have = row.get("sync_notes", "").strip()
    return have if text in have else "\n".join(x for x in (have, text) if x)




@dataclass
class PublishStep:
    """Publishing inside a run (:func:`sheets_sync.sync.run_sync`): the look-ups before
    planning, then, after the run's write, the calls and their outcomes."""

    publishers: dict[str, Publisher]
    settings: Settings
    attempt: str
    sleep: Callable[[float], None] = time.sleep
    outcomes: Outcomes | None = None
    journal: Journal | None = None  # what this machine sent (None: the tracker's record only)

    def inputs(self, rows: Mapping[tuple, Mapping[str, str]]) -> Inputs:
        platforms = platforms_of(self.publishers)
        checks = checks_needed(rows, platforms, self.settings, self.attempt)
        intents, posted, more = self._journaled(rows, platforms)
        found = run_checks([*checks, *more], self.publishers)
        found.update(posted)
        return Inputs(platforms, self.settings, self.attempt, found, intents)

    def _journaled(self, rows: Mapping[tuple, Mapping[str, str]], platforms: Mapping[str, Platform]):
        """The rows that show neither an intent nor a posted reply while the journal holds
        one for the same text: (their intents, those the journal knows posted, the checks
        for the others)."""
        intents: dict[tuple, Intent] = {}
        posted: dict[tuple, Posted] = {}
        checks: list[Check] = []
        if self.journal is None:
            return intents, posted, checks
        if self.journal.problem:
            log.warning("%s", self.journal.problem)
        for key, row in rows.items():
            entry = self.journal.get(key)
            if (entry is None or key[0] not in platforms or is_posted(row)
                    or parse_intent(row.get("publish", "")) is not None
                    or entry.fp != fingerprint(row.get("reply", "").strip())):
                continue
            intent = Intent(entry.since_time(), entry.attempt)
            if intent.at is None:
                continue
            intents[key] = intent
            if entry.posted() is not None:
                posted[key] = entry.posted()
            else:
                checks.append(Check(key, reply_of(key, row), intent.at - self.settings.margin))
        return intents, posted, checks

    def finish(self, plan, schema: Schema, now: datetime) -> Outcomes:
        """Make the plan's calls (its intents are in the tracker now, and in the journal
        before the first post); the last changes."""
        actions = plan.publishing.actions
        sending = [(a.key, fingerprint(a.reply.text)) for a in actions if a.kind == "post"]
        if self.journal is not None and sending:
            self.journal.sending(sending, self.attempt, now)
        calls = perform(actions, self.publishers, self.settings, sleep=self.sleep)
        if self.journal is not None and sending:
            self.journal.outcomes({key: calls[key] for key, _ in sending if key in calls})
        self.outcomes = outcome_changes(plan.publishing, calls, plan.publish_rows, schema, now)
        return self.outcomes


def new_attempt() -> str:
    """A run's attempt id, written in its intents: a later run tells them from its own."""
    return uuid.uuid4().hex[:6]


__all__ = ["NotTried", "Outcomes", "PublishStep", "as_publishers", "new_attempt", "outcome_changes",
           "perform", "run_checks"]
