"""A Google tracker on the local fake, a real Dovecot mailbox and ``python cli.py mail``,
with the attachments going to Drive (#15): what tests/test_content_drive*.py share."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from click.testing import CliRunner

from sheets_sync.backends.gsheets import attachments
from sheets_sync.cli import main
from tests.content_world import NODAL, NOW, content_rows, mail_log, tracker_for
from tests.test_mail_end_to_end import message

TAG = attachments.TRACKER_TAG
UPLOAD = r"^/upload/drive/v3/files$"
UNSET = ("SHEETS_SYNC_ATTACHMENTS_DIR", "SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER", "SHEETS_SYNC_SMTP_HOST")


class DriveWorld:
    def __init__(self, google, roster, box, tmp, monkeypatch) -> None:
        self.google, self.roster, self.box, self.tmp = google, roster, box, tmp
        self.server = google.server
        self.monkeypatch = monkeypatch

    def mail(self, *more: str, minutes: int = 5, code: int | None = 0):
        """``python cli.py mail``; its exit code checked unless ``code`` is None."""
        when = (NOW + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M")
        result = CliRunner().invoke(main, ["mail", "--tracker", self.google.tracker_arg, "--roster",
                                           str(self.roster), "--as-of", when, *more])
        assert code is None or result.exit_code == code, result.output
        assert "Traceback" not in result.output, result.output
        return result

    def deliver(self, subject: str, name: str, data: bytes, *, sender: str = NODAL,
                folder: str = "INBOX", mime: str = "application/pdf") -> EmailMessage:
        msg = message(sender, subject, "Details attached.")
        msg.add_attachment(data, maintype=mime.split("/")[0], subtype=mime.split("/")[1], filename=name)
        self.box.deliver(msg, received=NOW, folder=folder)
        return msg

    def tagged_folders(self) -> list:
        return [f for f in self.server.drive_files.values()
                if f.app_properties.get(TAG) == self.google.sid]

    def uploads(self) -> list:
        return [f for f in self.server.drive_files.values() if f.data is not None]

    def rows(self) -> dict:
        return content_rows(self.google)

    def log(self) -> list:
        return mail_log(self.google)

    def state(self):
        return self.google.values("Content"), self.google.values("Sync State"), self.google.values("Mail Log")

    def logins(self) -> int:
        """How many times the mailbox was logged in to (Dovecot's log)."""
        import time

        time.sleep(0.2)  # Dovecot writes its log line just after the login
        return self.box.server.log.count(f"Login: user=<{self.box.user}>,")

    def drive_requests(self) -> list[dict]:
        return [r for r in self.server.requests if r["kind"] == "drive"]

    def upload_requests(self) -> list[tuple[str, str, int, int | None]]:
        """The uploads sent, in order: (method, uploadType, bytes sent, status; None: no answer)."""
        return [(r["method"], (r["query"].get("uploadType") or [""])[0], r["request_bytes"], r["status"])
                for r in self.drive_requests() if r["path"] == "/upload/drive/v3/files"]


@pytest.fixture
def drive(request, tmp_path, roster_file, mailbox, monkeypatch):
    from tests.trackers import GoogleHarness

    google = GoogleHarness.make(request, tmp_path)
    for name, value in {**google.env, **mailbox.env()}.items():
        monkeypatch.setenv(name, value)
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(attachments, "_sleep", lambda seconds: None)  # the retries' waits
    monkeypatch.chdir(tmp_path)  # a local `attachments` folder would show here
    tracker_for(google, roster_file)
    google.server.clear_requests()
    return DriveWorld(google, roster_file, mailbox, tmp_path, monkeypatch)
