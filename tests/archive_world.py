"""A tracker with history, on either backend, for the archive's tests: old comments
(September) some answered, an open one, a recent post and comment, a column people
added themselves, and the archive's rows looked at through the store."""

from __future__ import annotations

from datetime import timedelta

from sheets_sync.archive_run import archive_stores
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sync import run_sync
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import comment, init_tracker, post, write_export
from tests.trackers import records

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-21T12:00:00+05:30")
LATER = NOW + timedelta(days=1)
CLOSED = {f"C{i}" for i in range(1, 8)}  # answered, old: these move
EXTRA = "Ward officer's remark"  # a column people added themselves


def history(tmp_path):
    posts = [post("P1", at="2026-09-01T10:00:00+05:30"),
             post("P2", "जलवाहिनी काम", at="2026-09-02T10:00:00+05:30"),
             post("P3", at="2026-11-20T10:00:00+05:30")]
    comments = [comment(f"C{i}", "P1" if i < 5 else "P2", f"=घंटागाडी {i} आली नाही 😡 🙏",
                        at=f"2026-09-{10 + i:02d}T11:00:00+05:30") for i in range(1, 9)]
    comments.append(comment("C9", "P3", "new one"))
    # A comment of 2025 on an old post: its year's own archive.
    posts.append(post("P0", at="2025-12-30T10:00:00+05:30"))
    comments.append(comment("C0", "P0", "जुनी टिप्पणी", at="2025-12-31T23:30:00+05:30"))
    return write_export(tmp_path / "export", posts, comments)


def make(harness, tmp_path, roster_file):
    """The tracker with its history; returns the export folder."""
    init_tracker(harness.tracker_arg, roster_file, env=harness.env)
    folder = history(tmp_path)
    sync(harness, folder, roster_file)
    for cid in sorted(CLOSED | {"C0"}):
        harness.type_in("Comments", "Comment ID", cid, "Status", "Replied")
        harness.type_in("Comments", "Comment ID", cid, "Reply", f"उत्तर {cid} ✅")
    add_column(harness, EXTRA, {"C1": "+91 वार्ड 7", "C8": "still open"})
    return folder


def add_column(harness, header: str, values: dict[str, str]) -> None:
    rows = harness.values("Comments")
    width = len(rows[0])
    if harness.kind == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(harness.path)
        ws = wb["Comments"]
        ws.cell(1, width + 1).value = header
        head = [c.value for c in ws[1]]
        k = next(i for i, h in enumerate(head) if h and str(h).endswith("Comment ID"))
        for r in range(2, ws.max_row + 1):
            if ws.cell(r, k + 1).value in values:
                ws.cell(r, width + 1).value = values[ws.cell(r, k + 1).value]
        wb.save(harness.path)
        return
    from tests.trackers import OWNER, _letter, _q

    sheet_id = harness.person._sheet_id(harness.sid, "Comments")
    harness.server.as_user(OWNER).batch_update(harness.sid, [{"appendDimension": {
        "sheetId": sheet_id, "dimension": "COLUMNS", "length": 1}}])
    harness.person.edit(harness.sid, f"{_q('Comments')}!{_letter(width)}1", [[header]], raw=True)
    for cid, value in values.items():
        harness.type_in("Comments", "Comment ID", cid, header, value)


def sync(harness, folder, roster_file, now=NOW, sources=None):
    sources = sources if sources is not None else ([FileSource(folder)] if folder else [])
    return run_sync(harness.backend(), sources, SCHEMA, roster_path=roster_file, now=now)


def comments(harness) -> dict[str, dict]:
    return {r["Comment ID"]: r for r in records(harness.values("Comments"))}


def posts(harness) -> dict[str, dict]:
    return {r["Post ID"]: r for r in records(harness.values("Posts"))}


def archived(harness, year: int, tab: str = "comments") -> list[dict[str, str]]:
    """The archive's rows of a tab (header → text, headers in English as the tests name them)."""
    from tests.trackers import english_header

    store = archive_stores(harness.backend()).open(year)
    if store is None:
        return []
    header, rows = store.rows(SCHEMA.tab(tab))
    head = [english_header(h) for h in header]
    return [dict(zip(head, r + [""] * (len(head) - len(r)), strict=False)) for r in rows]


def archived_ids(harness, year: int) -> list[str]:
    return [r["Comment ID"] for r in archived(harness, year)]
