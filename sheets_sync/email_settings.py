"""The e-mail settings: read from the environment (never from a file that could be
committed) and checked all at once, so one run names every wrong setting.

``SHEETS_SYNC_SMTP_HOST``, ``…_PORT``, ``…_SECURITY`` (``starttls``, ``ssl`` or
``none``), ``…_USER``, ``…_PASSWORD``, ``…_FROM``, and the recipients
``SHEETS_SYNC_CELL_EMAIL`` and ``SHEETS_SYNC_ADDL_COMMISSIONER_EMAIL``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr

from sheets_sync.errors import ConfigError

ENV_PREFIX = "SHEETS_SYNC_"
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str
    password: str = field(repr=False)
    sender: str  # "Name <address>" or an address
    cell: tuple[str, ...]
    addl_commissioner: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    def describe(self) -> str:
        login = f" as {self.user}" if self.user else ""
        return f"{self.host}:{self.port} ({self.security}){login}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Read and check every setting; one ConfigError lists all problems (never the password)."""
        env = _Env(os.environ if environ is None else environ)
        host = env.get("SMTP_HOST")
        if not host:
            env.problems.append("SHEETS_SYNC_SMTP_HOST is not set (the mail server, "
                                "e.g. smtp.mahapalika.example)")
        security = _security(env)
        port = _port(env, security)
        user, password = _login(env, host, security)
        sender = _sender(env)
        cell = _addresses(env.get("CELL_EMAIL"), "SHEETS_SYNC_CELL_EMAIL", env.problems)
        if not cell and not env.get("CELL_EMAIL"):
            env.problems.append("SHEETS_SYNC_CELL_EMAIL is not set (the social media cell's address, "
                                "which receives the summary)")
        addl = _addresses(env.get("ADDL_COMMISSIONER_EMAIL"), "SHEETS_SYNC_ADDL_COMMISSIONER_EMAIL",
                          env.problems)
        warnings = () if addl else (
            "SHEETS_SYNC_ADDL_COMMISSIONER_EMAIL is not set: the summary and the escalated comments "
            "go to the cell only",)
        env.raise_problems()
        return cls(host, port, security, user, password, sender, cell, addl, warnings)


class _Env:
    """The environment's settings, and the problems found in them so far (``what``: whose
    settings, for the message naming how many are wrong)."""

    def __init__(self, environ: Mapping[str, str], what: str = "e-mail") -> None:
        self.environ = environ
        self.what = what
        self.problems: list[str] = []

    def get(self, name: str) -> str:
        return (self.environ.get(ENV_PREFIX + name) or "").strip()

    def raw(self, name: str) -> str:
        """Unstripped (a password may start or end with a space)."""
        return self.environ.get(ENV_PREFIX + name) or ""

    def raise_problems(self) -> None:
        problems = self.problems
        if problems:
            raise ConfigError(problems[0] if len(problems) == 1 else
                              f"{len(problems)} {self.what} settings are wrong: " + "; ".join(problems))


def _security(env: _Env) -> str:
    security = (env.get("SMTP_SECURITY") or "starttls").lower()
    if security in SECURITY:
        return security
    env.problems.append(f"SHEETS_SYNC_SMTP_SECURITY={env.get('SMTP_SECURITY')!r} must be "
                        "starttls, ssl or none")
    return "starttls"


def _port(env: _Env, security: str) -> int:
    text = env.get("SMTP_PORT")
    if not text:
        return DEFAULT_PORTS[security]
    if not text.isdigit() or not 0 < int(text) < 65536:
        env.problems.append(f"SHEETS_SYNC_SMTP_PORT={text!r} must be a port number "
                            "(587 for starttls, 465 for ssl, 25 for none)")
        return DEFAULT_PORTS[security]
    return int(text)


def _login(env: _Env, host: str, security: str) -> tuple[str, str]:
    user, password = env.get("SMTP_USER"), env.raw("SMTP_PASSWORD")
    if user and not password:
        env.problems.append("SHEETS_SYNC_SMTP_PASSWORD is not set but SHEETS_SYNC_SMTP_USER is")
    if password and not user:
        env.problems.append("SHEETS_SYNC_SMTP_USER is not set but SHEETS_SYNC_SMTP_PASSWORD is")
    if user and security == "none" and host.lower() not in _LOCAL_HOSTS:
        env.problems.append("SHEETS_SYNC_SMTP_SECURITY=none would send the password unencrypted to "
                            f"{host}; use starttls or ssl")
    return user, password


def _sender(env: _Env) -> str:
    sender = env.get("SMTP_FROM")
    if not sender:
        env.problems.append("SHEETS_SYNC_SMTP_FROM is not set (the sender, e.g. "
                            "'Social Media Cell <socialmedia@mahapalika.example>')")
    elif not _EMAIL_RE.match(parseaddr(sender)[1] or "-"):
        env.problems.append(f"SHEETS_SYNC_SMTP_FROM={sender!r} is not an e-mail address")
    return sender


def _addresses(text: str, name: str, problems: list[str]) -> tuple[str, ...]:
    out = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        if not _EMAIL_RE.match(part):
            problems.append(f"{name}: {part!r} is not an e-mail address")
        else:
            out.append(part)
    return tuple(dict.fromkeys(out))
