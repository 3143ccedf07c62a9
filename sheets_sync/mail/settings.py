"""The mailbox settings: read from the environment and checked all at once, so one
run names every wrong setting (as the SMTP settings in ``email_settings`` are).

``SHEETS_SYNC_IMAP_HOST``, ``…_PORT``, ``…_USER``, ``…_PASSWORD`` (or
``…_PASSWORD_FILE``, a file holding only the password), ``…_FOLDER`` (default
``INBOX``), ``…_SECURITY`` (``tls``, the default, ``starttls``, or ``none``
only for a server on this machine), ``…_CA_FILE`` (a certificate bundle to
trust instead of the system's, for a corporation's own certificate authority);
``SHEETS_SYNC_MAIL_AUTHSERV`` (the name the corporation's mail server writes in
its Authentication-Results headers), ``SHEETS_SYNC_ATTACHMENTS_DIR``,
``SHEETS_SYNC_MAIL_MAX_ATTACHMENT_MB`` (default 25) and ``SHEETS_SYNC_IMAP_TIMEOUT``
(seconds to wait for the server at each step, default 60).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sheets_sync.email_settings import _Env

ENV_PREFIX = "SHEETS_SYNC_"
SECURITY = ("tls", "starttls", "none")
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}
DEFAULT_MAX_ATTACHMENT_MB = 25
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 3600.0  # a run waiting longer on one answer is a run that hangs
#: A whole message may be this many times the attachment cap before it is not
#: downloaded at all (base64 makes a 25 MB file 34 MB, and a message may carry several).
MESSAGE_CAP_FACTOR = 4
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    #: The authserv-id of the corporation's mail server ("" when not set: nobody is authenticated).
    authserv: str = ""
    attachments_dir: Path = Path("attachments")
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_MB * 1024 * 1024
    ca_file: str = ""
    #: Seconds to wait for the server at each step.
    timeout: float = DEFAULT_TIMEOUT
    warnings: tuple[str, ...] = ()
    #: Where attachments go instead of ``attachments_dir``: an object with ``prepare()``
    #: (run before the mailbox is read) and ``save(key, name, data, content_type)`` —
    #: the Google backend's Drive folder (sheets_sync.backends.gsheets.attachments).
    store: object = field(default=None, compare=False, repr=False)

    @property
    def max_message_bytes(self) -> int:
        return self.max_attachment_bytes * MESSAGE_CAP_FACTOR

    @property
    def checkpoint_key(self) -> str:
        """Where the checkpoint belongs: a different mailbox or folder starts its own."""
        return f"imap:{self.user}@{self.host}/{self.folder}"

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port} ({self.security}), folder {self.folder}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 default_attachments_dir: Path | str | None = None) -> ImapSettings:
        """Read and check every setting; one ConfigError lists all problems (never the password).

        ``default_attachments_dir`` is where attachments go when
        ``SHEETS_SYNC_ATTACHMENTS_DIR`` is not set: the caller passes the folder
        ``attachments`` beside the tracker.
        """
        e = _Env(os.environ if env is None else env, "mailbox")
        host = e.get("IMAP_HOST")
        if not host:
            e.problems.append("SHEETS_SYNC_IMAP_HOST is not set (the cell's mail server, "
                              "e.g. imap.mahapalika.example)")
        elif not _HOST_RE.match(host):
            e.problems.append(f"SHEETS_SYNC_IMAP_HOST={host!r} is not a host name; write only the "
                              "server's name, e.g. imap.mahapalika.example")
        security = _security(e, host)
        port = _port(e, security)
        user = e.get("IMAP_USER")
        if not user:
            e.problems.append("SHEETS_SYNC_IMAP_USER is not set (the cell's mailbox login)")
        password = _password(e)
        folder = e.get("IMAP_FOLDER") or "INBOX"
        ca_file = _ca_file(e)
        authserv = e.get("MAIL_AUTHSERV")
        warnings = []
        if not authserv:
            warnings.append("SHEETS_SYNC_MAIL_AUTHSERV is not set: no message counts as coming from "
                            "its sender, so no approval by e-mail can be recorded; set it to the name "
                            "your mail server writes in Authentication-Results")
        elif not _HOST_RE.match(authserv):
            e.problems.append(f"SHEETS_SYNC_MAIL_AUTHSERV={authserv!r} is not a server name (it is the "
                              "first word of your server's Authentication-Results headers)")
        attachments = Path(e.get("ATTACHMENTS_DIR") or default_attachments_dir or "attachments")
        cap = _cap(e)
        timeout = _timeout(e)
        e.raise_problems()
        return cls(host, port, security, user, password, folder, authserv.lower(), attachments,
                   cap, ca_file, timeout, warnings=tuple(warnings))


def _security(env: _Env, host: str) -> str:
    security = (env.get("IMAP_SECURITY") or "tls").lower()
    if security == "ssl":
        security = "tls"  # what the SMTP settings call it; the same thing
    if security not in SECURITY:
        env.problems.append(f"SHEETS_SYNC_IMAP_SECURITY={env.get('IMAP_SECURITY')!r} must be "
                            "tls, starttls or none")
        return "tls"
    if security == "none" and host and host.lower().strip("[]") not in _LOCAL_HOSTS:
        env.problems.append("SHEETS_SYNC_IMAP_SECURITY=none would send the mailbox password "
                            f"unencrypted to {host}; use tls or starttls (none is only for a server "
                            "on this machine)")
    return security


def _port(env: _Env, security: str) -> int:
    text = env.get("IMAP_PORT")
    if not text:
        return DEFAULT_PORTS[security]
    if not text.isdigit() or not 0 < int(text) < 65536:
        env.problems.append(f"SHEETS_SYNC_IMAP_PORT={text!r} must be a port number "
                            "(993 for tls, 143 for starttls)")
        return DEFAULT_PORTS[security]
    return int(text)


def _password(env: _Env) -> str:
    password, path = env.raw("IMAP_PASSWORD"), env.get("IMAP_PASSWORD_FILE")
    if password and path:
        env.problems.append("both SHEETS_SYNC_IMAP_PASSWORD and SHEETS_SYNC_IMAP_PASSWORD_FILE are "
                            "set; keep one")
        return password
    if password:
        return password
    if not path:
        env.problems.append("SHEETS_SYNC_IMAP_PASSWORD (or SHEETS_SYNC_IMAP_PASSWORD_FILE, a file "
                            "holding it) is not set")
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        env.problems.append(f"SHEETS_SYNC_IMAP_PASSWORD_FILE={path!r}: there is no such file")
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        # The reason only (never the content): "Permission denied", "invalid start byte".
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        env.problems.append(f"SHEETS_SYNC_IMAP_PASSWORD_FILE={path!r} cannot be read ({reason})")
        return ""
    # The file's last line break is an editor's, not the password's.
    password = text[:-1] if text.endswith("\n") else text
    password = password[:-1] if password.endswith("\r") else password
    if not password:
        env.problems.append(f"SHEETS_SYNC_IMAP_PASSWORD_FILE={path!r} is empty")
    return password


def _ca_file(env: _Env) -> str:
    path = env.get("IMAP_CA_FILE")
    if path and not Path(path).is_file():
        env.problems.append(f"SHEETS_SYNC_IMAP_CA_FILE={path!r}: there is no such file (a PEM "
                            "bundle of the certificate authorities to trust)")
    return path


def _timeout(env: _Env) -> float:
    text = env.get("IMAP_TIMEOUT")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT:  # (nan fails both comparisons)
        env.problems.append(f"SHEETS_SYNC_IMAP_TIMEOUT={text!r} must be a number of seconds to wait for "
                            f"the mail server, more than 0 and at most {MAX_TIMEOUT:g}, e.g. "
                            f"{DEFAULT_TIMEOUT:g}")
        return DEFAULT_TIMEOUT
    return value


def _cap(env: _Env) -> int:
    text = env.get("MAIL_MAX_ATTACHMENT_MB")
    if not text:
        return DEFAULT_MAX_ATTACHMENT_MB * 1024 * 1024
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 10_000:
        env.problems.append(f"SHEETS_SYNC_MAIL_MAX_ATTACHMENT_MB={text!r} must be a size in MB, "
                            f"e.g. {DEFAULT_MAX_ATTACHMENT_MB}")
        return DEFAULT_MAX_ATTACHMENT_MB * 1024 * 1024
    return int(value * 1024 * 1024)
