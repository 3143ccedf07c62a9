"""``SHEETS_SYNC_IMAP_TIMEOUT``: how long the mailbox reader waits for the mail server at each
step (default 60 s). A wrong value is one line naming it (exit 2); a server that accepts the
connection and never answers is one line (exit 5) after that many seconds, not a hung run."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from sheets_sync.errors import ConfigError
from sheets_sync.mail import MailboxUnavailable, fetch_new
from sheets_sync.mail.settings import ImapSettings
from tests.helpers import init_tracker

BASE = {
    "SHEETS_SYNC_IMAP_HOST": "127.0.0.1",
    "SHEETS_SYNC_IMAP_USER": "socialmedia@mahapalika.example",
    "SHEETS_SYNC_IMAP_PASSWORD": "s3cret-imap-pässwörd",
    "SHEETS_SYNC_MAIL_AUTHSERV": "mail.mahapalika.example",
}


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def settings(tmp_path: Path, **env) -> ImapSettings:
    values = {**BASE, "SHEETS_SYNC_ATTACHMENTS_DIR": str(tmp_path / "attachments"),
              **{f"SHEETS_SYNC_{k}": v for k, v in env.items()}}
    return ImapSettings.from_env(values)


def test_the_default_is_60_seconds_and_a_value_is_taken(tmp_path):
    assert settings(tmp_path).timeout == 60
    assert settings(tmp_path, IMAP_TIMEOUT="5").timeout == 5
    assert settings(tmp_path, IMAP_TIMEOUT=" 0.5 ").timeout == 0.5


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "inf", "7200", "60s"])
def test_a_wrong_timeout_is_one_line_naming_it(tmp_path, value):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, IMAP_TIMEOUT=value)
    message = str(info.value)
    assert info.value.exit_code == 2 and "\n" not in message
    assert message.startswith(f"SHEETS_SYNC_IMAP_TIMEOUT={value!r} must be a number of seconds")
    assert BASE["SHEETS_SYNC_IMAP_PASSWORD"] not in message


@pytest.mark.parametrize("security", ["none", "tls"])
def test_a_server_that_never_answers_stops_after_the_timeout(tmp_path, silent_port, security):
    s = settings(tmp_path, IMAP_PORT=str(silent_port), IMAP_SECURITY=security, IMAP_TIMEOUT="0.5")
    started = time.monotonic()
    with pytest.raises(MailboxUnavailable) as info:
        fetch_new(s, None)
    took = time.monotonic() - started
    assert 0.4 < took < 10, took
    assert info.value.exit_code == 5
    assert str(info.value) == (
        f"127.0.0.1:{silent_port} did not answer within 0.5 s: check SHEETS_SYNC_IMAP_PORT and "
        "SHEETS_SYNC_IMAP_SECURITY (tls for port 993), or the server is slow (the next run tries again)")


def test_the_mail_command_says_it_in_one_line_exit_5_and_the_tracker_untouched(
        tmp_path, silent_port, roster_file):
    tracker = tmp_path / "tracker.xlsx"
    init_tracker(str(tracker), roster_file)
    before = tracker.read_bytes()
    env = {**BASE, "SHEETS_SYNC_IMAP_PORT": str(silent_port), "SHEETS_SYNC_IMAP_SECURITY": "none",
           "SHEETS_SYNC_IMAP_TIMEOUT": "0.5", "SHEETS_SYNC_ATTACHMENTS_DIR": str(tmp_path / "att"),
           "SHEETS_SYNC_SMTP_HOST": ""}
    out = CliRunner().invoke(main, ["mail", "--tracker", str(tracker), "--roster", str(roster_file)], env=env)
    assert out.exit_code == 5, out.output
    assert out.output.count("\n") == 1 and "Traceback" not in out.output
    assert f"127.0.0.1:{silent_port} did not answer within 0.5 s" in out.output
    assert tracker.read_bytes() == before
    out = CliRunner().invoke(main, ["mail", "--tracker", str(tracker), "--roster", str(roster_file)],
                             env={**env, "SHEETS_SYNC_IMAP_TIMEOUT": "a minute"})
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert "SHEETS_SYNC_IMAP_TIMEOUT='a minute' must be a number of seconds" in out.output
    assert tracker.read_bytes() == before
