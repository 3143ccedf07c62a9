"""The schedule's settings: ``schedule.yaml`` (or the command's options) read and
checked into a :class:`ScheduleConfig`; a wrong setting is one line naming it."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from pathlib import Path

from sheets_sync.errors import ConfigError
from sheets_sync.yamlfile import load_yaml

DEFAULT_CONFIG = Path("schedule.yaml")
_HHMM = "%H:%M"


@dataclass(frozen=True)
class ScheduleConfig:
    """What runs when. ``0`` minutes or a ``None`` time turns a job off."""

    tracker: str | None = None
    source: str | None = None
    sync_every_minutes: int = 15
    overdue_every_minutes: int = 60
    report_at: str | None = "09:00"  # IST, every day
    report_email: bool = True
    include_empty: bool = False
    # The archive (``archive``): on the 1st of every month at this IST time, or None (off).
    archive_at: str | None = "03:00"
    path: Path | None = None  # the file it came from, for messages
    # The content pipeline (#15): the mailbox read with each sync, and the departments' daily
    # digest at an IST time. None: on when its settings are in the environment
    # (SHEETS_SYNC_IMAP_HOST for the mailbox, SHEETS_SYNC_SMTP_HOST for the digest).
    mail_with_sync: bool | None = None
    digest_at: str | None = "08:30"
    digest: bool | None = None

    def with_options(self, **options) -> ScheduleConfig:
        """Command-line options win over the file; None means "not given"."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})


def load_schedule_config(path: Path | str | None = None) -> ScheduleConfig:
    """Read ``schedule.yaml`` (a missing default file means the defaults); every problem with its line."""
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return ScheduleConfig()
        path = DEFAULT_CONFIG
    path = Path(path)
    data, loc = load_yaml(path, "schedule configuration")
    if data is None:
        return ScheduleConfig(path=path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the schedule must be a mapping with sync, overdue and report")
    problems: list[str] = []

    def problem(keys: tuple, text: str) -> None:
        problems.append(f"{loc.where(*keys)}: {text}")

    known = {"tracker", "source", "sync", "overdue", "report", "mail", "digest", "archive"}
    for key in data:
        if key not in known:
            problem((key,), f"unknown setting {key!r}; known: {', '.join(sorted(known))}")
    kw: dict = {"path": path, **_texts(data, problem)}
    for job in ("sync", "overdue"):
        kw.update(_every(data, job, problem))
    kw.update(_report_settings(data, problem))
    kw.update(_content_settings(data, problem))
    kw.update(_archive_settings(data, problem))
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{path}: {len(problems)} problems: " + "; ".join(problems))
    return ScheduleConfig(**kw)


def _texts(data: dict, problem) -> dict:
    """tracker: and source:, as text."""
    out = {}
    for key in ("tracker", "source"):
        if data.get(key) is not None:
            if not isinstance(data[key], str) or not data[key].strip():
                problem((key,), f"{key} must be text")
            else:
                out[key] = data[key].strip()
    return out


def _every(data: dict, job: str, problem) -> dict:
    """A job's every_minutes: (sync or overdue): minutes, 0 or off turning it off."""
    section = _section(data, job, ("every_minutes",), problem)
    if "every_minutes" not in section:
        return {}
    minutes = section["every_minutes"]
    if minutes is False or minutes == "off":
        minutes = 0
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 24 * 60:
        problem((job, "every_minutes"), f"{job}: every_minutes must be a whole number of minutes "
                "from 1 to 1440, or 0 (off)")
        return {}
    return {f"{job}_every_minutes": minutes}


def _report_settings(data: dict, problem) -> dict:
    """The report: section: at (an IST time, or off), email and include_empty."""
    report = _section(data, "report", ("at", "email", "include_empty"), problem)
    out: dict = {}
    at = _at(report, "report", "09:00", problem)
    if at is not _NOT_GIVEN:
        out["report_at"] = at
    for key, name in (("email", "report_email"), ("include_empty", "include_empty")):
        if key in report:
            if not isinstance(report[key], bool):
                problem(("report", key), f"report: {key} must be true or false")
            else:
                out[name] = report[key]
    return out


def _content_settings(data: dict, problem) -> dict:
    """mail: {with_sync: true/false} and digest: {at: "08:30" or off}."""
    out: dict = {}
    mail = _section(data, "mail", ("with_sync",), problem)
    if "with_sync" in mail:
        if not isinstance(mail["with_sync"], bool):
            problem(("mail", "with_sync"), "mail: with_sync must be true or false")
        else:
            out["mail_with_sync"] = mail["with_sync"]
    at = _at(_section(data, "digest", ("at",), problem), "digest", "08:30", problem)
    if at is None:
        out["digest"] = False
    elif at is not _NOT_GIVEN:
        out.update(digest=True, digest_at=at)
    return out


def _archive_settings(data: dict, problem) -> dict:
    """The archive: section: at (an IST time on the 1st of each month, or off)."""
    at = _at(_section(data, "archive", ("at",), problem), "archive", "03:00", problem)
    return {} if at is _NOT_GIVEN else {"archive_at": at}


_NOT_GIVEN = object()  # no at: in the section, or a wrong one (then a problem is noted)


def _at(section: dict, name: str, example: str, problem):
    """A section's at: an IST time ("09:00"), None for off, or _NOT_GIVEN."""
    if "at" not in section:
        return _NOT_GIVEN
    at = section["at"]
    if at in (None, False, "off"):
        return None
    if not isinstance(at, str) or parse_hhmm(at) is None:
        problem((name, "at"), f"{name}: at {at!r} must be an IST time in quotes, e.g. \"{example}\", or off")
        return _NOT_GIVEN
    return at.strip()


def _section(data: dict, name: str, keys: tuple[str, ...], problem) -> dict:
    section = data.get(name)
    if section is None:
        return {}
    if not isinstance(section, dict):
        problem((name,), f"{name} must be a mapping ({', '.join(keys)})")
        return {}
    for key in section:
        if key not in keys:
            problem((name, key), f"{name}: unknown setting {key!r}; known: {', '.join(keys)}")
    return section


def parse_hhmm(text: str) -> _dt.time | None:
    try:
        return _dt.datetime.strptime(text.strip(), _HHMM).time()
    except (ValueError, AttributeError):
        return None
