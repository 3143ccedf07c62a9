"""The archive moves exactly the closed old rows, keeps every cell, and is idempotent,
on both backends."""

from __future__ import annotations

from sheets_sync import jobs
from tests.archive_world import CLOSED, EXTRA, NOW, archived, archived_ids, comments, make, posts


def tracker(harness):
    return jobs.Tracker(harness.tracker_arg)


def test_moves_exactly_the_closed_old_rows_and_keeps_every_cell(harness, tmp_path, roster_file, monkeypatch):
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    before = comments(harness)
    result = jobs.archive(tracker(harness), now=NOW)
    assert result.counts[("comments", 2026)] == len(CLOSED)
    assert result.counts[("comments", 2025)] == 1
    assert result.counts[("posts", 2026)] == 1  # P1: every comment answered; P2 keeps C8
    live = comments(harness)
    assert set(live) == {"C8", "C9"}
    assert set(posts(harness)) == {"P2", "P3"}
    rows = {r["Comment ID"]: r for r in archived(harness, 2026)}
    assert set(rows) == CLOSED
    for cid in CLOSED:
        # Every cell as it was, people's and the extra column included, byte for byte.
        want = {k: v for k, v in before[cid].items()}
        got = {k: rows[cid].get(k, "") for k in want}
        assert got == want
    assert rows["C1"][EXTRA] == "+91 वार्ड 7"
    assert rows["C1"]["Comment"] == "=घंटागाडी 1 आली नाही 😡 🙏"
    assert archived_ids(harness, 2025) == ["C0"]
    # The second run moves nothing.
    again = jobs.archive(tracker(harness), now=NOW)
    assert again.counts == {}
    assert sorted(archived_ids(harness, 2026)) == sorted(CLOSED)


def test_dry_run_changes_nothing(harness, tmp_path, roster_file, monkeypatch):
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    before = {t: harness.values(t) for t in ("Comments", "Posts", "Sync Log")}
    result = jobs.archive(tracker(harness), now=NOW, dry_run=True)
    assert result.counts[("comments", 2026)] == len(CLOSED)
    assert {t: harness.values(t) for t in before} == before
    assert archived(harness, 2026) == []


def test_google_archive_is_a_spreadsheet_per_year_shared_like_the_tracker(request, tmp_path, roster_file,
                                                                          monkeypatch):
    from sheets_sync.archive_plan import year_states
    from tests.trackers import OWNER, PERSON, GoogleHarness, records

    harness = GoogleHarness.make(request, tmp_path)
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    make(harness, tmp_path, roster_file)
    # Killed once the year's archive exists, before the tracker records it: the rerun
    # finds it by its name instead of making a second one.
    from sheets_sync import archive_run

    with monkeypatch.context() as m:
        def killed(*args, **kwargs):
            raise KeyboardInterrupt

        m.setattr(archive_run, "_delete_moved", killed)
        try:
            jobs.archive(tracker(harness), now=NOW)
        except KeyboardInterrupt:
            pass
    jobs.archive(tracker(harness), now=NOW)
    server = harness.server
    named = {y: [b for b in server._books.values() if b.title == f"Social media tracker archive {y}"]
             for y in (2025, 2026)}
    assert [len(v) for v in named.values()] == [1, 1]
    book = named[2026][0]
    assert book.permissions.get(OWNER) == "writer" and book.permissions.get(PERSON) == "writer"
    assert [s.title for s in book.ordered_sheets()] == ["Comments", "Posts"]  # no Sync Log row is old yet
    # The tracker remembers it: where it is, and the newest comment it holds.
    states = year_states({r["Source"]: r["Checkpoint"] for r in records(harness.values("Sync State"))})
    assert states[2026].location == book.id and states[2026].comments == "2026-09-17 11:00"


def test_the_fake_deletes_a_batch_of_rows_as_one_by_one(fake_sheets):
    """The fake applies a batch of deleteDimension sent bottom first in one pass (the
    archive sends thousands); the result is the one a request at a time gives."""
    from tests.trackers import OWNER

    rows = [[f"r{i}", str(i)] for i in range(40)]
    doomed = [(30, 33), (20, 21), (5, 9), (1, 2)]
    results = []
    for together in (False, True):
        sid = fake_sheets.create_spreadsheet("t", OWNER, [{"title": "S", "gridProperties": {"rowCount": 50}}])
        owner = fake_sheets.as_user(OWNER)
        owner.edit(sid, "S!A1:B40", rows, raw=True)
        requests = [{"deleteDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": a,
                                                   "endIndex": b}}} for a, b in doomed]
        for batch in ([requests] if together else [[r] for r in requests]):
            owner.batch_update(sid, batch)
        results.append((fake_sheets.get_values(sid, "S"), fake_sheets.spreadsheet(sid).sheets[0].row_count))
    assert results[0] == results[1]
    assert len(results[0][0]) == 40 - 9


def test_the_workbook_archive_keeps_the_cells_formats(tmp_path, roster_file):
    import openpyxl
    from openpyxl.styles import PatternFill

    from tests.trackers import XlsxHarness, english_header

    harness = XlsxHarness(tmp_path)
    make(harness, tmp_path, roster_file)
    wb = openpyxl.load_workbook(harness.path)
    ws = wb["Comments"]
    head = [english_header(c.value) for c in ws[1]]
    key, notes = head.index("Comment ID") + 1, head.index("Notes") + 1
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, key).value == "C2")
    ws.cell(row, notes).value = "दिनांक 12 सप्टेंबर"
    ws.cell(row, notes).fill = PatternFill("solid", fgColor="FFFF00")
    wb.save(harness.path)
    jobs.archive(tracker(harness), now=NOW)
    archive = openpyxl.load_workbook(tmp_path / "tracker archive 2026.xlsx")["Comments"]
    head = [english_header(c.value) for c in archive[1]]
    key, notes = head.index("Comment ID") + 1, head.index("Notes") + 1
    row = next(r for r in range(2, archive.max_row + 1) if archive.cell(r, key).value == "C2")
    assert archive.cell(row, notes).value == "दिनांक 12 सप्टेंबर"
    assert archive.cell(row, notes).fill.fgColor.rgb.endswith("FFFF00")
