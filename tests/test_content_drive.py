"""Attachments in a Google Drive folder on the Google backend (#15), through the real IMAP
reader (Dovecot on loopback), ``python cli.py mail`` and the local Sheets/Drive fake."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheets_sync.cli import main
from tests.content_world import NOW, tracker_for
from tests.drive_world import UNSET, drive  # noqa: F401 - the fixture
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.trackers import OWNER, PERSON

PDF = b"%PDF-1.4 \x00\xff binary \r\n--not-a-boundary\r\n bytes"
MARATHI = "माहिती पत्रक — क्ष\u200dत्र.pdf"


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_an_attachment_lands_in_the_trackers_folder_and_its_link_in_the_row(drive):  # noqa: F811
    drive.deliver("Ward camp", MARATHI, PDF)
    drive.mail()
    calls = [(r["method"], r["path"].split("/")[-1]) for r in drive.drive_requests()]
    # The folder looked for, made, shared like the tracker (its two people), marked; the file
    # looked for by its key, uploaded (tests/test_content_drive_faults.py fails each in turn).
    assert calls == [("GET", "files"), ("POST", "files"), ("GET", "permissions"), ("POST", "permissions"),
                     ("POST", "permissions"), ("PATCH", folder_id := calls[5][1]), ("GET", "files"),
                     ("POST", "files")], calls

    [folder] = drive.tagged_folders()
    assert folder.id == folder_id
    assert folder.name == "Social media tracker attachments" and folder.owner == JOB_EMAIL
    assert folder.permissions == {OWNER: "writer", PERSON: "writer"}  # shared like the tracker
    assert folder.app_properties.get("sheets_sync_shared") == "1"
    [saved] = drive.uploads()
    assert saved.parents == [folder.id] and saved.data == PDF
    assert saved.name == unicodedata.normalize("NFC", MARATHI)  # Marathi, joiner and all, byte for byte
    assert saved.app_properties["sheets_sync_key"].endswith("-1-1")
    row = drive.rows()["CR-0001"]
    link = f"https://drive.google.com/file/d/{saved.id}/view?usp=drivesdk"
    assert row["Attachments"] == f"{saved.name} (1 KB) → {link}"
    value, is_formula = drive.google.raw_cell("Content", "Request", "CR-0001", "Attachments")
    assert value == row["Attachments"] and not is_formula
    assert not Path(drive.tmp, "attachments").exists()  # nothing on this machine

    # The next run finds the folder by its tag (a rename changes nothing), does not share it again.
    folder.name = "renamed by someone"
    drive.server.clear_requests()
    drive.deliver("Ward camp, photos", "photo.pdf", b"%PDF second")
    drive.mail(minutes=10)
    assert len(drive.tagged_folders()) == 1 and len(drive.uploads()) == 2
    calls = [(r["method"], r["path"]) for r in drive.drive_requests()]
    # One files.list for the folder, one per attachment, one upload for the new file: no sharing.
    assert calls == [("GET", "/drive/v3/files"), ("GET", "/drive/v3/files"),
                     ("POST", "/upload/drive/v3/files")], calls
    assert [r["Filed as"] for r in drive.log()] == ["request CR-0001", "request CR-0002"]


def test_the_given_folder_is_used_and_left_as_its_owner_shared_it(drive):  # noqa: F811
    given = drive.server.make_drive_folder("Cell uploads", OWNER, shared={JOB_EMAIL: "writer"})
    drive.monkeypatch.setenv("SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER",
                             f"https://drive.google.com/drive/folders/{given}?usp=sharing")
    drive.deliver("Ward camp", "plan.pdf", PDF)
    drive.mail()
    [saved] = drive.uploads()
    assert saved.parents == [given] and drive.tagged_folders() == []
    assert drive.server.drive_files[given].permissions == {JOB_EMAIL: "writer"}  # not shared by the job
    assert saved.id in drive.rows()["CR-0001"]["Attachments"]


def _refused(drive, expected: str, **env: str) -> None:  # noqa: F811
    for name, value in env.items():
        drive.monkeypatch.setenv(name, value)
    before = drive.state()
    logins = drive.logins()
    args = ["mail", "--tracker", drive.google.tracker_arg, "--roster", str(drive.roster)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert expected in line, line
    assert drive.state() == before and drive.uploads() == []  # nothing filed, nothing uploaded
    assert drive.logins() == logins  # the mailbox was not even opened


def test_bad_settings_are_one_line_exit_2_and_nothing_is_read(drive, tmp_path):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    mine = drive.server.make_drive_folder("Someone's", OWNER)  # not shared with the job
    readonly = drive.server.make_drive_folder("Read only", OWNER, shared={JOB_EMAIL: "reader"})
    _refused(drive, "keep one", SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER=readonly,
             SHEETS_SYNC_ATTACHMENTS_DIR=str(tmp_path / "a"))
    assert drive.server.requests == []  # stopped before the tracker was opened
    drive.monkeypatch.delenv("SHEETS_SYNC_ATTACHMENTS_DIR")
    _refused(drive, "not a Drive folder id or URL", SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER="my folder!")
    _refused(drive, f"not shared with {JOB_EMAIL}", SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER=mine)
    _refused(drive, "not found", SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER="1NoSuchFolderAnywhere00")
    _refused(drive, "may not add files", SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER=readonly)
    _refused(drive, "is not a folder", SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER=drive.google.sid)
    assert drive.rows() == {} and drive.log() == []
    drive.monkeypatch.delenv("SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER")
    drive.mail()  # with the setting put right, the mail is filed once
    assert list(drive.rows()) == ["CR-0001"] and len(drive.uploads()) == 1


def test_a_full_drive_stops_the_run_with_what_to_do_and_the_next_run_files_once(drive):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    drive.server.fill_drive_storage()
    before = drive.state()
    logins = drive.logins()
    result = drive.mail(code=2)
    line = one_line(result)
    assert "storage" in line and "shared drive" in line and "SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER" in line
    assert drive.state() == before and drive.uploads() == []
    assert drive.logins() == logins + 1  # a full Drive is found at the upload, while the mail is read
    drive.server.fill_drive_storage(False)
    drive.mail(minutes=10)
    assert list(drive.rows()) == ["CR-0001"] and len(drive.uploads()) == 1
    assert len(drive.tagged_folders()) == 1


def test_a_dry_run_uploads_nothing_and_makes_no_folder(drive):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    result = drive.mail("--dry-run")
    assert "Would file 1 message" in result.output
    assert drive.server.drive_files == {}
    assert all(r["method"] == "GET" for r in drive.drive_requests())
    assert drive.rows() == {}


def test_a_local_folder_named_on_google_is_used_and_drive_left_alone(drive, tmp_path):  # noqa: F811
    drive.monkeypatch.setenv("SHEETS_SYNC_ATTACHMENTS_DIR", str(tmp_path / "local"))
    drive.deliver("Ward camp", "plan.pdf", PDF)
    drive.mail()
    assert [p.read_bytes() for p in (tmp_path / "local").glob("*.pdf")] == [PDF]
    assert drive.server.drive_files == {} and drive.drive_requests() == []


@pytest.fixture
def xlsx_harness(tmp_path):
    from tests.trackers import XlsxHarness

    return XlsxHarness(tmp_path)


def test_the_workbook_keeps_its_folder_beside_it(xlsx_harness, roster_file, mailbox, monkeypatch, tmp_path):
    for name, value in mailbox.env().items():
        monkeypatch.setenv(name, value)
    for name in (*UNSET, "SHEETS_SYNC_API_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    tracker_for(xlsx_harness, roster_file)
    from tests.test_mail_end_to_end import message

    mailbox.deliver(message("swm.nodal@mahapalika.example", "Ward camp", "Attached.",
                            attachment=(MARATHI, PDF)), received=NOW)
    args = ["mail", "--tracker", xlsx_harness.tracker_arg, "--roster", str(roster_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    beside = Path(xlsx_harness.tracker_arg).resolve().parent / "attachments"
    [saved] = [p for p in beside.iterdir() if not p.name.startswith(".")]
    assert saved.read_bytes() == PDF and saved.name.endswith("-1-1-" + unicodedata.normalize("NFC", MARATHI))
    monkeypatch.setenv("SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER", "1SomeFolderId000000")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "is for a Google tracker" in one_line(result)
