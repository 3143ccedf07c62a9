"""A person saves the workbook (LibreOffice and Excel ignore the run's file lock) between
the run's read and its write: the write starts from their save, so what they typed stays
and the run's changes land by key; a workbook open in an office program at the write
gets nothing written at all (their next save would drop it)."""

from __future__ import annotations

import openpyxl
import pytest

from sheets_sync import jobs
from sheets_sync.backends.xlsx import XlsxBackend
from sheets_sync.errors import TrackerError
from sheets_sync.table import UpdateRow
from tests.helpers import comment, post, write_export
from tests.test_workbook_file import ELSEWHERE, _libreoffice_lock


@pytest.fixture
def tracker(tmp_path, roster_file):
    export = write_export(tmp_path / "export", [post("P1")], [comment("C1", "P1"), comment("C2", "P1")])
    path = tmp_path / "tracker.xlsx"
    t = jobs.Tracker(str(path), roster_path=str(roster_file), create=True)
    jobs.init(t)
    jobs.sync(t, f"files:{export}")
    return path, t


def col(head: list, name: str) -> int:
    """A column by its English header ("रिप्लाय / Reply" in the shipped mr+en language)."""
    return next(i for i, h in enumerate(head) if h and (h == name or str(h).endswith("/ " + name)))


def person_types(path, comment_id: str, header: str, text: str) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb["Comments"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[col(head, "Comment ID")].value == comment_id:
            row[col(head, header)].value = text
    wb.save(path)


def cells(path, comment_id: str) -> dict:
    ws = openpyxl.load_workbook(path)["Comments"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[col(head, "Comment ID")] == comment_id:
            return {name: row[col(head, name)] for name in ("Reply", "Sync notes")}
    raise AssertionError(comment_id)


def test_a_reply_saved_during_the_run_stays_and_the_runs_change_lands(tracker):
    path, t = tracker
    backend, schema = t.open()
    key = ("facebook", "C1")
    with backend.open(schema, write=True) as session:
        session.read(["comments"])
        person_types(path, "C1", "Reply", "पाणी उद्या सुरू होईल 🙏")  # saved by LibreOffice meanwhile
        session.apply([UpdateRow("comments", key, {"sync_notes": "checked by the run"})])
    row = cells(path, "C1")
    assert row["Reply"] == "पाणी उद्या सुरू होईल 🙏" and row["Sync notes"] == "checked by the run"


def test_nothing_is_written_while_the_workbook_is_open_in_an_office_program(tracker):
    path, t = tracker
    backend, schema = t.open()
    with backend.open(schema, write=True) as session:
        session.read(["comments"])
        person_types(path, "C2", "Reply", "typed in LibreOffice")
        _libreoffice_lock(path, ELSEWHERE)
        before = path.read_bytes()
        with pytest.raises(TrackerError, match="open in LibreOffice or Excel"):
            session.apply([UpdateRow("comments", ("facebook", "C2"), {"sync_notes": "x"})])
    assert path.read_bytes() == before


def test_a_backend_not_reloaded_without_a_save_meanwhile(tracker, monkeypatch):
    path, t = tracker
    backend, schema = t.open()
    with backend.open(schema, write=True) as session:
        loads = []
        monkeypatch.setattr(session, "_load", lambda: loads.append(1))
        session.apply([UpdateRow("comments", ("facebook", "C1"), {"sync_notes": "a"})])
        session.apply([UpdateRow("comments", ("facebook", "C1"), {"sync_notes": "b"})])  # after its own save
        assert loads == []
    assert cells(path, "C1")["Sync notes"] == "b"
    assert isinstance(backend, XlsxBackend)
