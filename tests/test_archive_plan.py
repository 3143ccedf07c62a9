"""The pure plan of what moves: closed and old, publishing settled, posts with all their
comments, the Sync Log by its own age, each row to its own year; the settings."""

from __future__ import annotations

import pytest

from sheets_sync.archive_plan import ArchiveSettings, archive_settings, plan_archive, year_states
from sheets_sync.errors import ConfigError
from sheets_sync.schema import load_schema
from sheets_sync.table import Table
from sheets_sync.timeutil import parse_timestamp

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")


def table(name, rows):
    tab = SCHEMA.tab(name)
    fields = sorted(({f for r in rows for f in r} | set(tab.key)) - {"own"})
    header = [tab.header_of(f) for f in fields] + ["People's own column"]
    return Table(tab.title, header, [[r.get(f, "") for f in fields] + [r.get("own", "")] for r in rows],
                 list(range(2, len(rows) + 2)))


def c(cid, status="Replied", at="2026-09-10 11:00", post="P1", **more):
    return {"platform": "facebook", "comment_id": cid, "post_id": post, "status": status,
            "commented_at": at, **more}


DEFAULTS = ArchiveSettings()


def plan(comments, posts=(), logs=(), settings=DEFAULTS):
    tables = {"comments": table("comments", comments), "posts": table("posts", list(posts)),
              "sync_log": table("sync_log", list(logs))}
    return plan_archive(tables, SCHEMA, settings, NOW)


def test_closed_and_old_move_open_or_recent_stay():
    p = plan([c("A"), c("B", "Pending"), c("C", "Escalated"), c("D", at="2026-11-01 10:00"),
              c("E", "Not required"), c("F", "")])
    assert p.keys_of("comments") == {("facebook", "A"), ("facebook", "E")}


def test_publishing_in_flight_stays():
    p = plan([c("A", approve="TRUE"), c("B", approve="TRUE", reply_id="r1"), c("C", "Hide"),
              c("D", "Hide", publish="hidden 2026-09-11 10:00"),
              c("E", publish="too long for X: 300 of 280")])
    assert p.keys_of("comments") == {("facebook", "B"), ("facebook", "D")}


def test_posts_move_with_all_their_comments_and_rows_keep_every_cell():
    posts = [{"platform": "facebook", "post_id": pid, "posted_at": "2026-09-01 10:00"}
             for pid in ("P1", "P2", "P3")]
    p = plan([c("A", own="ward 7"), c("B", "Pending", post="P2")], posts)
    assert p.keys_of("posts") == {("facebook", "P1"), ("facebook", "P3")}  # P3: no comments
    move = next(m for m in p.moves if m.tab == "comments")
    assert move.rows[0][-1] == "ward 7"


def test_each_row_to_its_own_year_and_the_log_by_its_own_age():
    logs = [{"run_at": "2026-08-01 10:00", "command": "sync"},
            {"run_at": "2026-10-01 10:00", "command": "sync"}]
    p = plan([c("A", at="2025-12-31 23:30"), c("B")], logs=logs)
    assert {(m.tab, m.year): len(m.keys) for m in p.moves} == {
        ("comments", 2025): 1, ("comments", 2026): 1, ("sync_log", 2026): 1}
    assert next(m for m in p.moves if m.year == 2025).newest == "2025-12-31 23:30"


def test_settings():
    def schema_with(text):
        import tempfile
        from pathlib import Path

        path = Path(tempfile.mkdtemp()) / "s.yaml"
        shipped = SCHEMA.path.read_text(encoding="utf-8")
        path.write_text(shipped.replace("  after_days: 30\n  log_days: 90\n", text), encoding="utf-8")
        return load_schema(path)

    assert archive_settings(SCHEMA) == ArchiveSettings(30, 90)
    assert archive_settings(schema_with("  after_days: 60\n")) == ArchiveSettings(60, 90)
    assert archive_settings(schema_with("")) == ArchiveSettings(30, 90)  # an empty section: the defaults
    for bad, word in (("  after_days: 0\n", "after_days"), ("  log_days: soon\n", "log_days"),
                      ("  keep: 3\n", "unknown setting 'keep'")):
        with pytest.raises(ConfigError, match=word) as err:
            archive_settings(schema_with(bad))
        assert "s.yaml:" in str(err.value)


def test_year_states_skip_what_is_not_theirs():
    states = year_states({"archive 2026": '{"at": "x", "comments": "2026-09-17 11:00"}', "archive x": "{}",
                          "archive 2025": "not json", "facebook": "cp"})
    assert list(states) == [2026] and states[2026].newest("comments").day == 17
