"""Reading a real IMAP server (Dovecot on loopback, tests/mail_fixtures.py): new mail once,
the cell's flags untouched, crashes and renumbered folders lose nothing and double nothing,
and every wrong setting is one clear line."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from sheets_sync.errors import ConfigError, SourceError
from sheets_sync.mail import MailboxError, MailboxSettingsError, MailboxUnavailable, check, fetch_new, imap
from sheets_sync.mail.settings import ImapSettings
from sheets_sync.timeutil import IST

AUTHSERV = "mail.mahapalika.example"
WHEN = datetime(2026, 11, 20, 10, 15, tzinfo=IST)


def request(subject="वृक्षारोपण मोहीम — प्रसिद्धीसाठी", sender="Garden Dept <Garden@Mahapalika.example>",
            text="नमस्कार,\nप्रसिद्धी दि. ५ डिसेंबर २०२६.\n", message_id=True, auth=True) -> EmailMessage:
    m = EmailMessage()
    if auth:  # what the corporation's server writes on top when DKIM checks out
        m["Authentication-Results"] = f"{AUTHSERV}; dkim=pass header.d=mahapalika.example"
    m["From"] = sender
    m["To"] = "cell@mahapalika.example"
    m["Subject"] = subject
    if message_id:
        m["Message-ID"] = make_msgid(domain="mahapalika.example")
    m.set_content(text)
    return m


def settings_for(mailbox, tmp_path, **env) -> ImapSettings:
    return ImapSettings.from_env(mailbox.env(tmp_path, **{f"SHEETS_SYNC_{k}": v for k, v in env.items()}))


def attachment_files(tmp_path) -> dict[str, bytes]:
    folder = tmp_path / "attachments"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_new_mail_is_read_once_and_the_cells_flags_stay_as_they_were(mailbox, tmp_path):
    first = request()
    first.add_attachment(b"%PDF-1.7 tree plan", maintype="application", subtype="pdf",
                         filename="वृक्षारोपण.pdf")
    first.add_attachment(b"\xff\xd8\xff photo", maintype="image", subtype="jpeg", filename="site.jpg")
    html = request("Water cut notice", sender="Water <water@mahapalika.example>", auth=False)
    html.set_content("<p>Notice</p><script>steal()</script><p>publish on 05/12/2026</p>", subtype="html")
    reply = request("Re: Approval needed: CR-0042", sender="HOD <hod@mahapalika.example>",
                    text="APPROVE\n\nOn Thu, 19 Nov 2026, cell wrote:\n> CR-0042 draft\n")
    uids = [mailbox.deliver(first, received=WHEN), mailbox.deliver(html, received=WHEN + timedelta(hours=1)),
            mailbox.deliver(reply, received=WHEN + timedelta(hours=2), flags=r"(\Seen)")]
    before = [mailbox.flags(uid) for uid in uids]
    s = settings_for(mailbox, tmp_path)

    batch = fetch_new(s, None)

    assert [m.uid for m in batch.mails] == uids and not batch.more and batch.warnings == []
    uidvalidity = batch.mails[0].uidvalidity
    assert batch.checkpoint == f"{uidvalidity}:{uids[-1]}"
    a, b, c = batch.mails
    assert (a.sender, a.subject, a.received) == ("garden@mahapalika.example",
                                                 "वृक्षारोपण मोहीम — प्रसिद्धीसाठी", WHEN)
    assert a.message_id == first["Message-ID"] and a.planned_date == date(2026, 12, 5)
    assert a.authenticated and a.auth_reason == ""
    assert [(x.name, x.saved_to) for x in a.attachments] == [
        ("वृक्षारोपण.pdf", f"{uidvalidity}-{uids[0]}-1-वृक्षारोपण.pdf"),
        ("site.jpg", f"{uidvalidity}-{uids[0]}-2-site.jpg")]
    assert attachment_files(tmp_path)[a.attachments[0].saved_to] == b"%PDF-1.7 tree plan"
    assert b.text == "Notice\n\npublish on 05/12/2026" and b.planned_date == date(2026, 12, 5)
    assert not b.authenticated and b.auth_reason == f"no Authentication-Results from {AUTHSERV} " \
                                                    "(the corporation's mail server)"
    assert c.codes == ("CR-0042",) and c.own_text == "APPROVE" and c.received == WHEN + timedelta(hours=2)
    # Read with BODY.PEEK in a read-only folder: unread mail is still unread, read mail still read.
    assert [mailbox.flags(uid) for uid in uids] == before
    assert "\\Seen" not in before[0] and "\\Seen" in before[2]

    again = fetch_new(s, batch.checkpoint)
    assert again.mails == [] and again.checkpoint == batch.checkpoint

    later = mailbox.deliver(request("One more"))
    newer = fetch_new(s, batch.checkpoint)
    assert [m.uid for m in newer.mails] == [later] and newer.checkpoint == f"{uidvalidity}:{later}"


def test_a_run_that_dies_before_the_tracker_is_written_reads_the_same_mail_again(mailbox, tmp_path,
                                                                                  monkeypatch):
    for n in range(3):
        m = request(f"Request {n}")
        m.add_attachment(f"file {n}".encode(), maintype="application", subtype="pdf", filename="a.pdf")
        mailbox.deliver(m)
    s = settings_for(mailbox, tmp_path)
    stored = fetch_new(s, None).checkpoint  # an earlier run, written to the tracker
    for n in range(3, 6):
        m = request(f"Request {n}")
        m.add_attachment(f"file {n}".encode(), maintype="application", subtype="pdf", filename="a.pdf")
        mailbox.deliver(m)

    # Killed while reading: after the second new message's attachment was saved.
    real = imap.parse_message
    calls = []

    def dies(*args, **kwargs):
        calls.append(1)
        mail = real(*args, **kwargs)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is killed here; nothing reaches the tracker
        return mail

    monkeypatch.setattr(imap, "parse_message", dies)
    with pytest.raises(KeyboardInterrupt):
        fetch_new(s, stored)
    monkeypatch.setattr(imap, "parse_message", real)
    partial = attachment_files(tmp_path)

    # Read, then killed before the tracker was written: the checkpoint stayed where it was.
    read_once = fetch_new(s, stored)
    files_once = attachment_files(tmp_path)
    read_twice = fetch_new(s, stored)

    assert [m.subject for m in read_once.mails] == ["Request 3", "Request 4", "Request 5"]
    assert read_twice.mails == read_once.mails and read_twice.checkpoint == read_once.checkpoint
    assert attachment_files(tmp_path) == files_once  # the same files, rewritten, none doubled
    assert len(files_once) == 6 and set(partial) <= set(files_once)
    assert all(data == files_once[name] for name, data in partial.items())
    assert not list((tmp_path / "attachments").glob(".part-*"))


def test_files_half_written_by_a_killed_run_are_cleared_later(mailbox, tmp_path):
    folder = tmp_path / "attachments"
    folder.mkdir()
    old, fresh = folder / ".part-killed", folder / ".part-writing"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (folder / "1-1-1-keep.pdf").write_bytes(b"%PDF")
    fetch_new(settings_for(mailbox, tmp_path), None)
    assert sorted(p.name for p in folder.iterdir()) == [".part-writing", "1-1-1-keep.pdf"]


def test_attachments_that_cannot_be_saved_stop_the_read_and_lose_nothing(mailbox, tmp_path,
                                                                       monkeypatch):
    for n in range(3):
        m = request(f"Request {n}")
        m.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="a.pdf")
        mailbox.deliver(m)
    s = settings_for(mailbox, tmp_path)
    real, calls = imap.files.save, []

    def disk_full(*args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args)

    monkeypatch.setattr(imap.files, "save", disk_full)
    err = failure(s)
    assert isinstance(err, MailboxSettingsError) and err.exit_code == 2
    assert str(err) == (f"SHEETS_SYNC_ATTACHMENTS_DIR={str(tmp_path / 'attachments')!r}: attachments "
                        "cannot be saved there (No space left on device); free some space or name "
                        "another folder (no mail was filed, the next run reads it again)")
    monkeypatch.setattr(imap.files, "save", real)
    assert [m.subject for m in fetch_new(s, None).mails] == ["Request 0", "Request 1", "Request 2"]


def test_an_attachments_folder_that_cannot_be_made_is_named_before_reading(mailbox, tmp_path):
    (tmp_path / "attachments").write_text("a file in the way")
    mailbox.deliver(request())
    err = failure(settings_for(mailbox, tmp_path))
    assert isinstance(err, MailboxSettingsError)
    assert str(err).startswith(f"SHEETS_SYNC_ATTACHMENTS_DIR={str(tmp_path / 'attachments')!r}: "
                               "attachments cannot be saved there (File exists)")


def test_a_connection_cut_in_the_middle_is_a_source_failure_and_loses_nothing(mailbox, tmp_path):
    for n in range(4):
        m = request(f"Request {n}")
        m.add_attachment(bytes(200_000), maintype="application", subtype="pdf", filename="big.pdf")
        mailbox.deliver(m)
    with _CuttingProxy(mailbox.server.host, mailbox.server.tls_port, after=400_000) as proxy:
        s = dataclasses.replace(settings_for(mailbox, tmp_path), host="127.0.0.1", port=proxy.port)
        with pytest.raises(MailboxUnavailable) as info:
            fetch_new(s, None)
    assert info.value.exit_code == 5 and isinstance(info.value, SourceError)
    assert "broke off" in str(info.value) and "the next run tries again" in str(info.value)
    batch = fetch_new(settings_for(mailbox, tmp_path), None)
    assert [m.subject for m in batch.mails] == [f"Request {n}" for n in range(4)]


def test_a_forwarded_thread_through_the_server(mailbox, tmp_path):
    original = request("Press note: स्वच्छता अभियान", sender="PRO <pro@mahapalika.example>",
                       text="अभियानाचा शुभारंभ दि. १० जानेवारी २०२७.\n")
    original.add_attachment(b"%PDF press", maintype="application", subtype="pdf", filename="press.pdf")
    forward = request("Fwd: Press note: स्वच्छता अभियान",
                      text="Please publish on 8 Jan 2027.\n\n---------- Forwarded message ---------\n"
                           "From: PRO <pro@mahapalika.example>\nDate: Mon, 30 Nov 2026\n\n"
                           "> old quoted words, publish on 1 Dec 2026\n")
    forward.add_attachment(original)
    mailbox.deliver(forward)
    [mail] = fetch_new(settings_for(mailbox, tmp_path), None).mails
    assert "अभियानाचा शुभारंभ दि. १० जानेवारी २०२७." in mail.text and "old quoted words" in mail.text
    assert mail.own_text == "Please publish on 8 Jan 2027." and mail.planned_date == date(2027, 1, 8)
    assert [a.name for a in mail.attachments] == ["press.pdf"]


def test_a_plain_ascii_password_logs_in_with_login(dovecot, tmp_path):
    user = dovecot.add_user(password="plain-ascii-password")
    uid = user.deliver(request())
    assert [m.uid for m in fetch_new(settings_for(user, tmp_path), None).mails] == [uid]


def test_a_connection_cut_at_any_point_of_the_session_loses_nothing(mailbox, tmp_path):
    for n in range(3):
        m = request(f"Request {n}")
        m.add_attachment(bytes([n]) * 30_000, maintype="application", subtype="pdf", filename="a.pdf")
        mailbox.deliver(m)
    direct = settings_for(mailbox, tmp_path)
    with _CuttingProxy(mailbox.server.host, mailbox.server.tls_port, after=None) as proxy:
        relayed = dataclasses.replace(direct, port=proxy.port)
        expected = fetch_new(relayed, None)
    total = proxy.sent  # every byte the server sends in one whole run: greeting to logout
    files = attachment_files(tmp_path)
    outcomes = set()
    # Finer at the start: the TLS handshake, the greeting, the login, the folder.
    for cut in sorted({total * k // 32 for k in range(32)} | {1, 50, 200, 500, 1000, 2000, 3000}):
        with _CuttingProxy(mailbox.server.host, mailbox.server.tls_port, after=cut) as proxy:
            try:
                batch = fetch_new(dataclasses.replace(direct, port=proxy.port), None)
            except MailboxError as err:
                # A cut is the network's fault, never a setting's: the next run tries again.
                assert isinstance(err, MailboxUnavailable), (cut, str(err))
                outcomes.add("failed")
            else:
                # Cut during the farewell: everything was read.
                assert batch.mails == expected.mails and batch.checkpoint == expected.checkpoint
                outcomes.add("read")
    assert "failed" in outcomes
    again = fetch_new(direct, expected.checkpoint.split(":")[0] + ":0")
    assert again.mails == expected.mails and attachment_files(tmp_path) == files
    assert not list((tmp_path / "attachments").glob(".part-*"))


def test_a_run_reads_at_most_its_limit_and_the_rest_next_time(mailbox, tmp_path):
    uids = [mailbox.deliver(request(f"R{n}")) for n in range(5)]
    s = settings_for(mailbox, tmp_path)
    seen, checkpoint, runs = [], None, []
    while True:
        batch = fetch_new(s, checkpoint, limit=2)
        runs.append((len(batch.mails), batch.left, batch.more))
        seen += [m.uid for m in batch.mails]
        checkpoint = batch.checkpoint
        if not batch.more:
            break
    assert runs == [(2, 3, True), (2, 1, True), (1, 0, False)] and seen == uids


def test_a_renumbered_folder_is_read_again_with_the_same_message_ids(mailbox, tmp_path):
    mailbox.deliver(request("With id"), folder="Requests")
    mailbox.deliver(request("Without id", message_id=False), folder="Requests")
    s = settings_for(mailbox, tmp_path, IMAP_FOLDER="Requests")
    before = fetch_new(s, None)
    mailbox.renumber("Requests")

    after = fetch_new(s, before.checkpoint)

    old_validity = before.mails[0].uidvalidity
    new_validity = after.mails[0].uidvalidity
    assert new_validity != old_validity
    assert [m.subject for m in after.mails] == ["With id", "Without id"]
    assert [m.message_id for m in after.mails] == [m.message_id for m in before.mails]
    assert after.mails[1].message_id.endswith("@sheets-sync.invalid>")
    assert after.warnings == [
        f"the server renumbered the folder Requests (its UIDVALIDITY changed from {old_validity} to "
        f"{new_validity}): it is read again from the start; mails already filed are recognised by "
        "their Message-ID"]
    assert after.checkpoint.startswith(f"{new_validity}:")


def test_a_checkpoint_nobody_could_have_written_reads_from_the_start(mailbox, tmp_path):
    mailbox.deliver(request())
    batch = fetch_new(settings_for(mailbox, tmp_path), "banana")
    assert len(batch.mails) == 1 and "'banana' in Sync State is not 'uidvalidity:uid'" in batch.warnings[0]


def test_a_checkpoint_beyond_the_folders_numbers_reads_from_the_start(mailbox, tmp_path):
    uid = mailbox.deliver(request())
    s = settings_for(mailbox, tmp_path)
    validity = fetch_new(s, None).mails[0].uidvalidity
    batch = fetch_new(s, f"{validity}:{uid + 50}")
    assert [m.uid for m in batch.mails] == [uid]
    assert batch.warnings == [f"the folder INBOX numbers its mail below the checkpoint (UID {uid + 50}, "
                              f"next {uid + 1}): it is read again from the start; mails already filed "
                              "are recognised by their Message-ID"]


def test_an_empty_folder_still_gives_a_checkpoint(mailbox, tmp_path):
    mailbox.deliver(request())
    mailbox.expunge_all()
    batch = fetch_new(settings_for(mailbox, tmp_path), None)
    assert batch.mails == [] and batch.checkpoint.endswith(":0")
    assert check(settings_for(mailbox, tmp_path)).endswith("folder INBOX: 0 messages")


def test_a_marathi_folder_name(mailbox, tmp_path):
    uid = mailbox.deliver(request(), folder="विनंत्या")
    batch = fetch_new(settings_for(mailbox, tmp_path, IMAP_FOLDER="विनंत्या"), None)
    assert [m.uid for m in batch.mails] == [uid] and batch.mails[0].folder == "विनंत्या"


def test_starttls_and_none_on_this_machine(mailbox, tmp_path):
    uid = mailbox.deliver(request())
    port = str(mailbox.server.plain_port)
    for security in ("starttls", "none"):
        s = settings_for(mailbox, tmp_path, IMAP_SECURITY=security, IMAP_PORT=port)
        assert [m.uid for m in fetch_new(s, None).mails] == [uid]


@pytest.mark.slow
def test_an_attachment_over_25_mb_is_listed_and_not_saved(mailbox, tmp_path):
    m = request()
    m.add_attachment(b"\x00" * (26 * 1024 * 1024), maintype="video", subtype="mp4", filename="walk.mp4")
    m.add_attachment(b"%PDF small", maintype="application", subtype="pdf", filename="note.pdf")
    mailbox.deliver(m)
    [mail] = fetch_new(settings_for(mailbox, tmp_path), None).mails
    video, note = mail.attachments
    assert video.skipped == "larger than 25 MB (26 MB): not saved; ask the sender for a link"
    assert video.size == 26 * 1024 * 1024 and video.saved_to == ""
    assert note.saved_to and list(attachment_files(tmp_path)) == [note.saved_to]


def test_a_message_over_the_message_cap_is_not_downloaded_whole(mailbox, tmp_path):
    m = request(text="A video for the drive. प्रसिद्धी दि. ५ डिसेंबर २०२६.")
    m.add_attachment(bytes(3 * 1024 * 1024), maintype="video", subtype="mp4", filename="drive.mp4")
    mailbox.deliver(m)
    # A 0.5 MB cap per attachment: a message may be 2 MB; this one is 4 MB in base64.
    [mail] = fetch_new(settings_for(mailbox, tmp_path, MAIL_MAX_ATTACHMENT_MB="0.5"), None).mails
    assert mail.subject == "वृक्षारोपण मोहीम — प्रसिद्धीसाठी" and mail.planned_date == date(2026, 12, 5)
    assert mail.text.startswith("A video for the drive.")
    [video] = mail.attachments
    assert video.name == "drive.mp4" and video.saved_to == ""
    assert video.skipped.startswith("not downloaded: the message is 4")
    assert "only its beginning was read" in mail.notes[0]
    assert attachment_files(tmp_path) == {}


# -- wrong settings: one clear line each -------------------------------------------------------

def failure(s: ImapSettings) -> MailboxError:
    with pytest.raises(MailboxError) as info:
        fetch_new(s, None)
    message = str(info.value)
    assert "\n" not in message and s.password not in message
    return info.value


def test_a_refused_login(mailbox, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    s = settings_for(mailbox, tmp_path, IMAP_PASSWORD="wrong password 🐍")
    err = failure(s)
    assert isinstance(err, MailboxSettingsError) and isinstance(err, ConfigError) and err.exit_code == 2
    assert str(err) == (f"the mail server 127.0.0.1 refused the login of SHEETS_SYNC_IMAP_USER="
                        f"{mailbox.user!r} ([AUTHENTICATIONFAILED] Authentication failed.): check "
                        "SHEETS_SYNC_IMAP_PASSWORD (or SHEETS_SYNC_IMAP_PASSWORD_FILE)")
    assert "wrong password" not in caplog.text and mailbox.password not in caplog.text


def test_tls_spoken_to_the_plain_port(mailbox, tmp_path):
    err = failure(settings_for(mailbox, tmp_path, IMAP_PORT=str(mailbox.server.plain_port)))
    assert isinstance(err, MailboxSettingsError) and err.exit_code == 2
    assert str(err).startswith(f"127.0.0.1:{mailbox.server.plain_port} does not answer in TLS")
    assert "check SHEETS_SYNC_IMAP_PORT (993 for tls)" in str(err)


def test_nothing_listening_at_the_port(mailbox, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = failure(settings_for(mailbox, tmp_path, IMAP_PORT=str(port)))
    assert isinstance(err, MailboxUnavailable) and err.exit_code == 5
    assert str(err) == (f"nothing answers at 127.0.0.1:{port}: check SHEETS_SYNC_IMAP_HOST and "
                        "SHEETS_SYNC_IMAP_PORT, or the server is down (the next run tries again)")


def test_plain_imap_spoken_to_the_tls_port_times_out_with_a_hint(mailbox, tmp_path):
    s = dataclasses.replace(settings_for(mailbox, tmp_path, IMAP_SECURITY="none"), timeout=1.0)
    err = failure(s)
    assert isinstance(err, MailboxUnavailable)
    assert str(err).startswith(f"127.0.0.1:{mailbox.server.tls_port} did not answer within 1 s: check "
                               "SHEETS_SYNC_IMAP_PORT and SHEETS_SYNC_IMAP_SECURITY (tls for port 993)")


def test_a_certificate_this_machine_does_not_trust(mailbox, tmp_path):
    env = mailbox.env(tmp_path)
    del env["SHEETS_SYNC_IMAP_CA_FILE"]
    err = failure(ImapSettings.from_env(env))
    assert isinstance(err, MailboxSettingsError) and err.exit_code == 2
    assert str(err).startswith(f"the mail server 127.0.0.1:{mailbox.server.tls_port} showed a "
                               "certificate this machine does not trust (")
    assert str(err).endswith("check SHEETS_SYNC_IMAP_HOST, or set SHEETS_SYNC_IMAP_CA_FILE to your "
                             "corporation's certificate authority")


def test_a_host_name_the_certificate_is_not_for(mailbox, tmp_path):
    # The certificate names localhost and 127.0.0.1; "127.0.0.1." style tricks aside, an IPv4
    # address written another way (decimal) reaches the server but does not match it.
    s = dataclasses.replace(settings_for(mailbox, tmp_path), host="2130706433")
    err = failure(s)
    assert isinstance(err, MailboxSettingsError) and "does not trust" in str(err)


def test_a_folder_that_does_not_exist(mailbox, tmp_path):
    mailbox.deliver(request(), folder="Requests")
    err = failure(settings_for(mailbox, tmp_path, IMAP_FOLDER="Reqests"))
    assert isinstance(err, MailboxSettingsError)
    assert str(err) == (f"SHEETS_SYNC_IMAP_FOLDER='Reqests': the mailbox {mailbox.user} has no such "
                        "folder (its folders: INBOX, Requests)")


def test_no_such_host(tmp_path, mailbox):
    err = failure(settings_for(mailbox, tmp_path, IMAP_HOST="no-such-host.invalid"))
    assert isinstance(err, MailboxSettingsError)
    assert str(err) == "SHEETS_SYNC_IMAP_HOST='no-such-host.invalid': there is no such host (check the name)"


class _CuttingProxy:
    """A TCP relay to the server that cuts the connection after ``after`` bytes from it."""

    def __init__(self, host: str, port: int, after: int | None) -> None:
        self.target = (host, port)
        self.after = after
        self.sent = 0  # bytes from the server that reached the client
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> _CuttingProxy:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()

    def _serve(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(self.target)
        threading.Thread(target=self._pipe, args=(client, server, None, False), daemon=True).start()
        self._pipe(server, client, self.after, True)

    def _pipe(self, src: socket.socket, dst: socket.socket, limit: int | None, count: bool) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[:limit - sent])
                    sent = limit
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        if count:
            self.sent = sent
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
