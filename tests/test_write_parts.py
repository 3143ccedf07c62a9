"""A big write goes to Google in parts of at most about 2 MB, packed full.

Google recommends at most 2 MB per request; one appendCells of 500 long
Marathi comments used to go out whole (6 MB), and parts were filled by whole
requests only (3.6 MB went out as four parts where three would do).
"""

from __future__ import annotations

import json

import pytest

from sheets_sync.backends import gsheets
from sheets_sync.backends.gsheets.cells import _chunks
from tests.test_faults import LATER, export, master, officer_types, sync
from tests.trackers import GoogleHarness

LIMIT = 2_000_000  # what Google recommends; the job aims under gsheets.MAX_PAYLOAD


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def _rows(n: int, text: str) -> list[dict]:
    return [{"values": [{"userEnteredValue": {"stringValue": f"{text} {i}"}}]} for i in range(n)]


def test_a_request_of_rows_is_cut_to_fill_each_part():
    words = "घंटागाडी आली नाही 😡 " * 200  # about 10 KB of UTF-8 a row
    big = {"appendCells": {"sheetId": 7, "rows": _rows(500, words), "fields": "userEnteredValue"}}
    chunks = _chunks([{"updateSheetProperties": {"properties": {"sheetId": 7}}}, big], 1_800_000)
    sizes = [sum(len(r) + 1 for r in c) for c in chunks]
    row = len(json.dumps(big["appendCells"]["rows"][0], ensure_ascii=False).encode())
    # Full parts: each short of the limit by less than one row; so no part more than needed.
    assert max(sizes) <= 1_800_000 and min(sizes[:-1]) > 1_800_000 - row, sizes
    assert len(chunks) == -(-sum(sizes) // (1_800_000 - row)), sizes
    appended = [row for c in chunks for r in c for k, b in json.loads(r).items()
                if k == "appendCells" for row in b["rows"]]
    assert appended == big["appendCells"]["rows"]  # every row once, in order


def test_an_update_cut_in_pieces_starts_each_piece_on_its_own_row():
    rows = _rows(300, "x" * 5_000)
    big = {"updateCells": {"start": {"sheetId": 3, "rowIndex": 10, "columnIndex": 4},
                           "rows": rows, "fields": "userEnteredValue"}}
    pieces = [json.loads(r)["updateCells"] for c in _chunks([big], 400_000) for r in c]
    assert len(pieces) >= 4
    row = 10
    for piece in pieces:
        assert piece["start"] == {"sheetId": 3, "rowIndex": row, "columnIndex": 4}
        row += len(piece["rows"])
    assert [r for p in pieces for r in p["rows"]] == rows


def test_a_tiny_limit_still_sends_each_request_whole():
    """The fault tests make every request a part of its own (a limit of one byte)."""
    big = {"appendCells": {"sheetId": 1, "rows": _rows(5, "x"), "fields": "userEnteredValue"}}
    assert len(_chunks([big, big], 1)) == 2


def test_500_long_marathi_comments_go_in_parts_under_2_mb(google, tmp_path, roster_file):
    words = " कचरा उचलला नाही, रस्त्यावर दुर्गंधी पसरली आहे 🙏" * 90  # about 10 KB of UTF-8
    sync(google, export(tmp_path, "e1", 4), roster_file)
    officer_types(google)
    google.server.clear_requests()
    folder = export(tmp_path, "e2", 500, words)
    sync(google, folder, roster_file, now=LATER)
    writes = [e["request_bytes"] for e in google.server.requests if e["path"].endswith(":batchUpdate")]
    parts = writes[1:]  # the first is the lock
    assert sum(parts) > 5_000_000 and max(parts) <= LIMIT, writes
    assert min(parts[:-1]) >= 1_500_000, writes
    rows = master(google)
    assert len(rows) == 500
    assert all(rows[f"C{i}"]["Comment"] == f"घंटागाडी आली नाही {i} 😡{words}" for i in (5, 250, 500))
    assert gsheets.MAX_PAYLOAD < LIMIT
