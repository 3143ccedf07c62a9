"""The mailbox settings: every wrong one named in one line, the password never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sheets_sync.errors import ConfigError
from sheets_sync.mail.settings import ImapSettings

SECRET = "s3cret-imap-pässwörd"
BASE = {
    "SHEETS_SYNC_IMAP_HOST": "imap.mahapalika.example",
    "SHEETS_SYNC_IMAP_USER": "socialmedia@mahapalika.example",
    "SHEETS_SYNC_IMAP_PASSWORD": SECRET,
    "SHEETS_SYNC_MAIL_AUTHSERV": "Mail.Mahapalika.Example",
}


def settings(**env) -> ImapSettings:
    values = {**BASE, **{f"SHEETS_SYNC_{k}": v for k, v in env.items()}}
    return ImapSettings.from_env({k: v for k, v in values.items() if v is not None},
                                 default_attachments_dir=Path("/srv/tracker/attachments"))


def error(**env) -> str:
    with pytest.raises(ConfigError) as info:
        settings(**env)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message and SECRET not in message
    return message


def test_defaults():
    s = settings()
    assert (s.host, s.port, s.security, s.folder) == ("imap.mahapalika.example", 993, "tls", "INBOX")
    assert s.user == "socialmedia@mahapalika.example" and s.password == SECRET
    assert s.authserv == "mail.mahapalika.example"
    assert s.attachments_dir == Path("/srv/tracker/attachments")
    assert s.max_attachment_bytes == 25 * 1024 * 1024 and s.max_message_bytes == 100 * 1024 * 1024
    assert s.ca_file == "" and s.warnings == ()
    assert s.checkpoint_key == "imap:socialmedia@mahapalika.example@imap.mahapalika.example/INBOX"


def test_every_setting(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = settings(IMAP_PORT="1143", IMAP_SECURITY="STARTTLS", IMAP_FOLDER="विभाग/Requests",
                 IMAP_CA_FILE=str(ca), ATTACHMENTS_DIR=str(tmp_path / "files"),
                 MAIL_MAX_ATTACHMENT_MB="0.5")
    assert (s.port, s.security, s.folder, s.ca_file) == (1143, "starttls", "विभाग/Requests", str(ca))
    assert s.attachments_dir == tmp_path / "files" and s.max_attachment_bytes == 512 * 1024
    assert settings(IMAP_SECURITY="starttls").port == 143
    assert settings(IMAP_SECURITY="ssl").security == "tls"  # as the SMTP settings say it


def test_the_password_from_a_file(tmp_path):
    path = tmp_path / "imap-password"
    path.write_text(" spaces kept \n", encoding="utf-8")
    assert settings(IMAP_PASSWORD=None, IMAP_PASSWORD_FILE=str(path)).password == " spaces kept "
    path.write_text("", encoding="utf-8")
    assert error(IMAP_PASSWORD=None, IMAP_PASSWORD_FILE=str(path)) == (
        f"SHEETS_SYNC_IMAP_PASSWORD_FILE={str(path)!r} is empty")
    assert error(IMAP_PASSWORD=None, IMAP_PASSWORD_FILE=str(tmp_path / "nope")) == (
        f"SHEETS_SYNC_IMAP_PASSWORD_FILE={str(tmp_path / 'nope')!r}: there is no such file")
    assert error(IMAP_PASSWORD_FILE=str(path)) == (
        "both SHEETS_SYNC_IMAP_PASSWORD and SHEETS_SYNC_IMAP_PASSWORD_FILE are set; keep one")


@pytest.mark.parametrize("env, message", [
    ({"IMAP_HOST": None}, "SHEETS_SYNC_IMAP_HOST is not set (the cell's mail server, "
                          "e.g. imap.mahapalika.example)"),
    ({"IMAP_HOST": "imaps://imap.example:993"}, "SHEETS_SYNC_IMAP_HOST='imaps://imap.example:993' is "
                                                "not a host name; write only the server's name, "
                                                "e.g. imap.mahapalika.example"),
    ({"IMAP_USER": None}, "SHEETS_SYNC_IMAP_USER is not set (the cell's mailbox login)"),
    ({"IMAP_PASSWORD": None}, "SHEETS_SYNC_IMAP_PASSWORD (or SHEETS_SYNC_IMAP_PASSWORD_FILE, a file "
                              "holding it) is not set"),
    ({"IMAP_PORT": "imap"}, "SHEETS_SYNC_IMAP_PORT='imap' must be a port number (993 for tls, 143 "
                            "for starttls)"),
    ({"IMAP_PORT": "70000"}, "SHEETS_SYNC_IMAP_PORT='70000' must be a port number (993 for tls, 143 "
                             "for starttls)"),
    ({"IMAP_SECURITY": "plain"}, "SHEETS_SYNC_IMAP_SECURITY='plain' must be tls, starttls or none"),
    ({"IMAP_SECURITY": "none"}, "SHEETS_SYNC_IMAP_SECURITY=none would send the mailbox password "
                                "unencrypted to imap.mahapalika.example; use tls or starttls (none is "
                                "only for a server on this machine)"),
    ({"IMAP_CA_FILE": "/no/ca.pem"}, "SHEETS_SYNC_IMAP_CA_FILE='/no/ca.pem': there is no such file (a "
                                     "PEM bundle of the certificate authorities to trust)"),
    ({"MAIL_MAX_ATTACHMENT_MB": "lots"}, "SHEETS_SYNC_MAIL_MAX_ATTACHMENT_MB='lots' must be a size in "
                                         "MB, e.g. 25"),
    ({"MAIL_MAX_ATTACHMENT_MB": "0"}, "SHEETS_SYNC_MAIL_MAX_ATTACHMENT_MB='0' must be a size in MB, "
                                      "e.g. 25"),
    ({"MAIL_AUTHSERV": "mail server"}, "SHEETS_SYNC_MAIL_AUTHSERV='mail server' is not a server name "
                                       "(it is the first word of your server's Authentication-Results "
                                       "headers)"),
])
def test_one_clear_line_per_wrong_setting(env, message):
    assert error(**env) == message


def test_all_problems_at_once():
    assert error(IMAP_HOST=None, IMAP_USER=None, IMAP_PORT="x") == (
        "3 mailbox settings are wrong: SHEETS_SYNC_IMAP_HOST is not set (the cell's mail server, e.g. "
        "imap.mahapalika.example); SHEETS_SYNC_IMAP_PORT='x' must be a port number (993 for tls, 143 "
        "for starttls); SHEETS_SYNC_IMAP_USER is not set (the cell's mailbox login)")


def test_none_is_allowed_on_this_machine_only():
    assert settings(IMAP_HOST="127.0.0.1", IMAP_SECURITY="none").security == "none"
    assert settings(IMAP_HOST="localhost", IMAP_SECURITY="none").port == 143


def test_without_authserv_a_warning_says_what_it_costs():
    [warning] = settings(MAIL_AUTHSERV=None).warnings
    assert warning.startswith("SHEETS_SYNC_MAIL_AUTHSERV is not set: no message counts as coming from "
                              "its sender, so no approval by e-mail can be recorded")


def test_the_password_is_never_shown(caplog):
    caplog.set_level(logging.DEBUG)
    s = settings()
    shown = [repr(s), str(s), s.describe(), s.checkpoint_key, *s.warnings]
    assert all(SECRET not in text for text in shown)
    assert "password" not in repr(s)
    assert SECRET not in caplog.text


def test_the_mail_api_is_sorted_and_every_name_is_there():
    import sheets_sync.mail as mail

    assert mail.__all__ == sorted(mail.__all__)
    assert all(getattr(mail, name) is not None for name in mail.__all__)
