"""Attachments in Drive under faults (#15): each request a mail run sends to Drive, and the
tracker's write after the uploads, failing before or after Google applied it. Afterwards
nothing is doubled in Drive and each mail is filed once."""

from __future__ import annotations

import pytest

from tests.drive_world import UPLOAD, drive  # noqa: F401 - the fixture
from tests.test_faults import WRITE
from tests.trackers import OWNER, PERSON

DRIVE = r"^/(upload/)?drive/v3/"

PDF = b"%PDF-1.4 plan"


def settled(drive, files: int, requests: list[str]) -> None:  # noqa: F811
    """One folder, ``files`` uploads (no name twice), each request filed once, each with its link."""
    assert len(drive.tagged_folders()) == 1
    uploads = drive.uploads()
    assert len(uploads) == files and len({f.app_properties["sheets_sync_key"] for f in uploads}) == files
    rows = drive.rows()
    assert sorted(rows) == requests
    assert [r["Filed as"] for r in drive.log()] == [f"request {code}" for code in requests]
    links = {f.id for f in uploads}
    for row in rows.values():
        assert any(i in row["Attachments"] for i in links), row["Attachments"]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("how", ["503", "drop"])
def test_an_upload_that_fails_or_whose_answer_is_lost_is_looked_up_not_doubled(drive, when, how):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    if how == "503":
        drive.server.fail_next(status=503, method="POST", path=UPLOAD, when=when)
    else:
        drive.server.drop_next(method="POST", path=UPLOAD, when=when)
    drive.mail()  # the same run looks the key up and uploads only if Drive has not got it
    settled(drive, 1, ["CR-0001"])
    uploads = [r for r in drive.drive_requests() if r["path"] == "/upload/drive/v3/files"]
    # Not applied: sent again; applied with the answer lost: found by its key, not sent again.
    assert len(uploads) == (2 if when == "before" else 1)


@pytest.mark.parametrize("how", ["503", "drop"])
def test_an_upload_never_confirmed_stops_the_run_exit_5_and_the_next_files_once(drive, how):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    before = drive.state()
    if how == "503":
        drive.server.fail_next(count=10, status=503, method="POST", path=UPLOAD, when="before")
    else:
        drive.server.drop_next(count=10, method="POST", path=UPLOAD, when="before")
    result = drive.mail(code=5)
    assert "did not confirm the upload" in result.output and "Traceback" not in result.output
    assert drive.state() == before and drive.uploads() == []
    drive.server.reset_knobs()
    drive.mail(minutes=10)
    settled(drive, 1, ["CR-0001"])


@pytest.mark.parametrize("path", [r"^/drive/v3/files$", r"/permissions$"])
def test_drive_not_answering_the_folder_look_up_is_exit_5_and_nothing_filed(drive, path):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    before = drive.state()
    drive.server.fail_next(count=20, status=503, method="GET", path=path)
    result = drive.mail(code=5)
    assert "Google Drive" in result.output and "Traceback" not in result.output
    assert drive.state() == before and drive.uploads() == []
    drive.server.reset_knobs()
    drive.mail(minutes=10)
    settled(drive, 1, ["CR-0001"])
    assert all(len(f.permissions) == 2 for f in drive.tagged_folders())


@pytest.mark.parametrize("how", ["503", "drop"])
def test_the_folder_made_but_its_answer_lost_is_found_by_its_tag_not_made_twice(drive, how):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    if how == "503":
        drive.server.fail_next(status=503, method="POST", path=r"^/drive/v3/files$", when="after")
    else:
        drive.server.drop_next(method="POST", path=r"^/drive/v3/files$", when="after")
    drive.mail()
    settled(drive, 1, ["CR-0001"])


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_run_killed_at_the_trackers_write_after_the_upload_doubles_nothing(drive, when):  # noqa: F811
    """The uploads landed, the tracker's write did not (or its answer was lost): the next run
    reads the same mail again, finds each attachment by its key, and files it once."""
    drive.deliver("Ward camp", "plan.pdf", PDF)
    drive.deliver("Ward camp, photos", "photo.pdf", b"%PDF photos")
    drive.server.drop_next(count=3, method="POST", path=WRITE, when=when)
    drive.mail(code=None)  # whatever the run made of it (stopped, or checked and went on)
    assert len(drive.uploads()) == 2
    drive.server.reset_knobs()
    drive.server.clear_requests()
    drive.mail(minutes=10)
    settled(drive, 2, ["CR-0001", "CR-0002"])
    assert not [r for r in drive.drive_requests() if r["path"] == "/upload/drive/v3/files"]


@pytest.mark.parametrize("skip", range(8))
def test_each_drive_request_of_a_first_run_applied_but_its_answer_lost(drive, skip):  # noqa: F811
    """The first run's Drive requests (folder look-up, make, permissions read, two shares,
    mark, file look-up, upload) each in turn answered 503 after Drive applied it: the run
    checks (a look-up) or leaves it to the next run (a share, the mark) and files the mail;
    the next run ends with the same one folder, shared, and one file."""
    drive.deliver("Ward camp", "plan.pdf", PDF)
    drive.server.fail_next(status=503, path=DRIVE, when="after", skip=skip)
    drive.mail()
    assert not drive.server.config.faults  # the fault was met: the run sent that many Drive requests
    drive.server.reset_knobs()
    settled(drive, 1, ["CR-0001"])  # filed by the run the fault hit
    drive.mail(minutes=10)
    settled(drive, 1, ["CR-0001"])
    [folder] = drive.tagged_folders()
    assert folder.permissions == {OWNER: "writer", PERSON: "writer"}
    assert folder.app_properties.get("sheets_sync_shared") == "1"


def test_a_renumbered_mailbox_reuses_the_files_already_in_drive(drive):  # noqa: F811
    drive.monkeypatch.setenv("SHEETS_SYNC_IMAP_FOLDER", "Requests")  # Dovecot renumbers no INBOX
    drive.deliver("Ward camp", "plan.pdf", PDF, folder="Requests")
    drive.deliver("Ward camp, revised", "plan.pdf", PDF + b" revised", folder="Requests")
    drive.mail()
    first = drive.uploads()
    assert len(first) == 2  # the same name, other content: another file
    keys = sorted(f.app_properties["sheets_sync_key"] for f in first)
    drive.box.renumber("Requests")
    drive.server.clear_requests()
    drive.mail(minutes=10)
    assert drive.uploads() == first  # same name, same MD5: the same attachment, under its old key
    assert sorted(f.app_properties["sheets_sync_key"] for f in first) == keys
    looked = [r for r in drive.drive_requests() if r["method"] == "GET"]
    assert len(looked) == 3 and not [r for r in drive.drive_requests() if r["method"] != "GET"]
    assert sorted(drive.rows()) == ["CR-0001", "CR-0002"] and len(drive.log()) == 2
