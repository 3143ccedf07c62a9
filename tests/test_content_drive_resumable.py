"""Large attachments (the departments' videos) go to Drive by the resumable protocol, small
ones by one multipart request; Drive's throttling is waited out (#18). Through the real
IMAP reader (Dovecot on loopback), ``python cli.py mail`` and the local Sheets/Drive fake;
a kill is a real process killed."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from sheets_sync.backends.gsheets import attachments
from sheets_sync.backends.gsheets.client import RetryingHTTPClient
from tests.content_world import NOW
from tests.drive_world import UPLOAD, drive  # noqa: F401 - the fixture
from tests.fake_sheets_fixtures import JOB_EMAIL
from tests.test_content_drive import one_line
from tests.test_content_drive_faults import settled
from tests.trackers import OWNER

MIB = 1024 * 1024
VIDEO = bytes(range(256)) * (6 * MIB // 256)  # 6 MiB: above multipart's 5 MB
PDF = b"%PDF-1.4 ward plan"


def video(drive, subject: str = "Ward camp video", name: str = "camp.mp4") -> None:  # noqa: F811
    drive.deliver(subject, name, VIDEO, mime="video/mp4")


def sessions(drive) -> tuple[int, int]:  # noqa: F811
    """(sessions that made a file, sessions no one finished) in the fake Drive."""
    done = [s for s in drive.server.upload_sessions.values() if s.file_id]
    return len(done), len(drive.server.upload_sessions) - len(done)


def test_a_6_mb_video_goes_up_in_one_session_and_one_put_and_a_small_file_in_one_request(drive):  # noqa: F811
    drive.deliver("Ward camp", "plan.pdf", PDF)
    video(drive)
    drive.mail()
    small, large = sorted(drive.uploads(), key=lambda f: len(f.data))
    assert small.data == PDF and large.data == VIDEO
    assert large.name == "camp.mp4" and large.mime_type == "video/mp4"
    assert large.resource("owner")["md5Checksum"] == hashlib.md5(VIDEO).hexdigest()
    assert large.app_properties["sheets_sync_key"].endswith("-2-1") and small.parents == large.parents
    # Per attachment: the look-up (GET) and then the PDF in one multipart POST; the video's
    # session POST (metadata only) and one PUT with every byte, answered with the file.
    files = [(r["method"], r["path"]) for r in drive.drive_requests()][-5:]
    assert files == [("GET", "/drive/v3/files"), ("POST", UPLOAD[1:-1]), ("GET", "/drive/v3/files"),
                     ("POST", UPLOAD[1:-1]), ("PUT", UPLOAD[1:-1])], files
    sent = drive.upload_requests()
    assert sent[0][:2] == ("POST", "multipart") and sent[0][2] > len(PDF)
    assert sent[1][:2] == ("POST", "resumable") and sent[1][2] < 1000  # no bytes with the metadata
    assert sent[2] == ("PUT", "resumable", len(VIDEO), 200)
    assert sessions(drive) == (1, 0)
    rows = drive.rows()
    link = f"https://drive.google.com/file/d/{large.id}/view?usp=drivesdk"
    cell = rows["CR-0002"]["Attachments"]
    assert cell.startswith("camp.mp4 (") and cell.endswith(f" → {link}"), cell
    assert small.id in rows["CR-0001"]["Attachments"]
    # Run again: each found by its key, nothing sent.
    drive.server.clear_requests()
    drive.mail(minutes=10)
    assert drive.upload_requests() == [] and len(drive.uploads()) == 2 and len(drive.log()) == 2


def lose(world, how: str, method: str, when: str) -> None:
    """The next upload request of ``method`` fails ``when`` (before or after Drive applied
    it): a 503, or the connection dropped with no answer."""
    if how == "503":
        world.server.fail_next(status=503, method=method, path=UPLOAD, when=when)
    else:
        world.server.drop_next(method=method, path=UPLOAD, when=when)


@pytest.mark.parametrize("how", ["503", "drop"])
def test_the_answer_to_the_put_lost_after_drive_made_the_file_is_asked_not_sent_again(drive, how):  # noqa: F811
    video(drive)
    lose(drive, how, "PUT", "after")
    drive.mail()
    settled(drive, 1, ["CR-0001"])
    # The bytes once, then the status query (no bytes) answered with the file.
    assert drive.upload_requests() == [("POST", "resumable", drive.upload_requests()[0][2], 200),
                                       ("PUT", "resumable", len(VIDEO), None if how == "drop" else 503),
                                       ("PUT", "resumable", 0, 200)]
    assert sessions(drive) == (1, 0) and drive.uploads()[0].data == VIDEO


@pytest.mark.parametrize("how", ["503", "drop"])
def test_a_put_that_failed_before_drive_applied_it_is_sent_again_after_asking(drive, how):  # noqa: F811
    video(drive)
    lose(drive, how, "PUT", "before")
    drive.mail()
    settled(drive, 1, ["CR-0001"])
    puts = [r[1:] for r in drive.upload_requests() if r[0] == "PUT"]
    # Drive said it had nothing (308, no Range): all the bytes again, to the same session.
    assert puts == [("resumable", len(VIDEO), None if how == "drop" else 503), ("resumable", 0, 308),
                    ("resumable", len(VIDEO), 200)]
    assert sessions(drive) == (1, 0)


def test_a_put_cut_part_way_sends_only_the_bytes_drive_lacks(drive):  # noqa: F811
    video(drive)
    drive.server.cut_next_upload(keep=3 * MIB + 12345)
    drive.mail()
    settled(drive, 1, ["CR-0001"])
    puts = [r[2:] for r in drive.upload_requests() if r[0] == "PUT"]
    assert puts == [(len(VIDEO), None), (0, 308), (len(VIDEO) - 3 * MIB, 200)]  # Range: bytes=0-3145727
    assert drive.uploads()[0].data == VIDEO and sessions(drive) == (1, 0)


@pytest.mark.parametrize("how", ["503", "drop"])
def test_a_session_whose_answer_was_lost_is_left_and_another_begun(drive, how):  # noqa: F811
    video(drive)
    lose(drive, how, "POST", "after")
    drive.mail()
    settled(drive, 1, ["CR-0001"])
    assert [r[:2] for r in drive.upload_requests()] == [("POST", "resumable"), ("POST", "resumable"),
                                                         ("PUT", "resumable")]
    assert sessions(drive) == (1, 1)  # the orphan: no file, harmless


def test_a_session_drive_forgot_is_looked_up_and_begun_again(drive):  # noqa: F811
    video(drive)

    def expire(info, phase):
        if phase == "after" and info.method == "POST" and info.path == UPLOAD[1:-1] and not expire.done:
            expire.done = True
            drive.server.expire_upload_sessions()  # as a week later: the session URI answers 404
    expire.done = False
    drive.server.on_request(expire)
    drive.mail()
    settled(drive, 1, ["CR-0001"])
    calls = [(r["method"], r["path"], r["status"]) for r in drive.drive_requests()][-6:]
    assert calls == [("GET", "/drive/v3/files", 200), ("POST", UPLOAD[1:-1], 200), ("PUT", UPLOAD[1:-1], 404),
                     ("GET", "/drive/v3/files", 200), ("POST", UPLOAD[1:-1], 200), ("PUT", UPLOAD[1:-1], 200)]


def test_a_run_killed_between_the_session_post_and_the_put_is_filed_once_by_the_next(drive, tmp_path):  # noqa: F811
    """A real process, killed (SIGKILL) when Drive has begun its session: no file, no row.
    The next run finds no file for the key, begins a session of its own and files it once;
    the first session is left unused."""
    from tests.conftest import ROOT

    video(drive)
    drive.mail()  # the folder made and shared, so the killed run's only Drive writes are the upload's
    video(drive, "Ward camp video, second cut", "camp2.mp4")
    procs: list[subprocess.Popen] = []

    def kill(info, phase):
        if phase == "after" and info.method == "POST" and info.path == UPLOAD[1:-1] and procs:
            procs[0].kill()  # the session begun; the PUT never sent
    drive.server.on_request(kill)
    when = (NOW + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")
    procs.append(subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "mail", "--tracker",
                                   drive.google.tracker_arg, "--roster", str(drive.roster), "--as-of", when],
                                  cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    procs[0].wait(120)
    assert procs[0].returncode == -signal.SIGKILL, procs[0].stderr.read().decode()
    procs.clear()
    assert len(drive.uploads()) == 1 and sessions(drive) == (1, 1) and list(drive.rows()) == ["CR-0001"]
    drive.mail(minutes=15)
    settled(drive, 2, ["CR-0001", "CR-0002"])
    assert sessions(drive) == (2, 1)


THROTTLES = [
    ("GET", r"^/drive/v3/files$", 403, "userRateLimitExceeded"),  # the look-up
    ("POST", UPLOAD, 403, "userRateLimitExceeded"),  # the session
    ("PUT", UPLOAD, 403, "rateLimitExceeded"),  # the bytes
    ("PUT", UPLOAD, 429, "rateLimitExceeded"),
]


@pytest.mark.parametrize("method,path,status,reason", THROTTLES)
def test_drive_throttling_is_waited_out_and_the_video_filed(drive, method, path, status, reason):  # noqa: F811
    video(drive)
    drive.mail()  # the folder made first: the throttle then meets the attachment's requests
    video(drive, "Ward camp video, second cut", "camp2.mp4")
    waits: list[float] = []
    drive.monkeypatch.setattr(attachments, "_sleep", waits.append)
    drive.server.clear_requests()
    drive.server.throttle_next(count=2, status=status, reason=reason, method=method, path=path)
    drive.mail(minutes=10)  # exit 0: no exit 5
    settled(drive, 2, ["CR-0001", "CR-0002"])
    hit = [r["status"] for r in drive.drive_requests() if r["method"] == method and r["path"] == path[1:-1]]
    assert hit[:3] == [status, status, 200], hit  # the same request again after each refusal
    assert len(waits) == 2 and all(w > 0 for w in waits)  # with a backoff between
    assert sessions(drive) == (2, 0)


def test_throttling_that_does_not_end_is_exit_5_after_the_retries_and_nothing_filed(drive):  # noqa: F811
    video(drive)
    before = drive.state()
    drive.server.throttle_next(count=100, method="POST", path=UPLOAD)
    result = drive.mail(code=5)
    line = result.output.strip().splitlines()[-1]
    assert "403" in line and "run again later" in line and "Traceback" not in result.output
    assert drive.state() == before and drive.uploads() == [] and drive.server.upload_sessions == {}
    assert len(drive.upload_requests()) == RetryingHTTPClient.retry.attempts
    drive.server.reset_knobs()
    drive.mail(minutes=10)
    settled(drive, 1, ["CR-0001"])


def test_a_full_drive_refuses_the_video_at_once_one_line_exit_2_nothing_filed(drive):  # noqa: F811
    video(drive)
    drive.server.fill_drive_storage()
    before = drive.state()
    result = drive.mail(code=2)
    line = one_line(result)
    assert "storage" in line and "shared drive" in line and "SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER" in line
    assert drive.state() == before and drive.uploads() == []
    assert [r[:2] for r in drive.upload_requests()] == [("POST", "resumable")]  # refused, not retried
    drive.server.fill_drive_storage(False)
    drive.mail(minutes=10)
    settled(drive, 1, ["CR-0001"])


def test_a_folder_no_longer_writable_refuses_the_video_at_once_one_line_exit_2(drive):  # noqa: F811
    given = drive.server.make_drive_folder("Cell uploads", OWNER, shared={JOB_EMAIL: "writer"})
    drive.monkeypatch.setenv("SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER", given)
    video(drive)

    def downgrade(info, phase):  # the owner makes the job a reader after the folder was checked
        if phase == "before" and info.path == UPLOAD[1:-1]:
            drive.server.drive_files[given].permissions[JOB_EMAIL] = "reader"
    drive.server.on_request(downgrade)
    before = drive.state()
    result = drive.mail(code=2)
    line = one_line(result)
    assert "refused" in line and "sufficient permissions" in line and "Editor" in line
    assert drive.state() == before and drive.uploads() == []
    assert [r[:2] for r in drive.upload_requests()] == [("POST", "resumable")]  # not retried


def test_only_drives_rate_limit_403_is_retried_not_a_sheets_refusal(fake_sheets, service_account_key):
    """Sheets says "not shared" with a 403 too (PERMISSION_DENIED, no Drive reason): one try."""
    from gspread.exceptions import APIError

    from sheets_sync.backends.gsheets.client import load_credentials
    from sheets_sync.endpoint import session_for

    creds = load_credentials(service_account_key)
    client = RetryingHTTPClient(creds, session_for(fake_sheets.url, creds), sleep=lambda s: None)
    sid = fake_sheets.create_spreadsheet("Someone's", OWNER)
    with pytest.raises(APIError) as refused:
        client.request("get", f"https://sheets.googleapis.com/v4/spreadsheets/{sid}")
    assert refused.value.response.status_code == 403 and len(fake_sheets.requests) == 1
    fake_sheets.throttle_next(count=2, path=r"^/drive/v3/files$")
    listed = client.request("get", "https://www.googleapis.com/drive/v3/files")
    assert listed.status_code == 200 and [r["status"] for r in fake_sheets.requests[1:]] == [403, 403, 200]
