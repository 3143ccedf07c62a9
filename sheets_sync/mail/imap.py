"""Reading the cell's mailbox over IMAP: what is new since the last run, never twice.

The checkpoint is ``"<uidvalidity>:<last uid>"``. IMAP numbers a folder's
messages with UIDs that only grow, and promises that while the folder's
UIDVALIDITY stays the same a UID always means the same message; so "every UID
above the last one filed" is exactly what is new. The caller stores the
returned checkpoint in the tracker's Sync State in the same write as the rows
the mails became (as the platform sources' checkpoints are), so a run that
dies before that write reads the same mails again, and their attachments are
saved again under the same names (``files``): nothing lost, nothing doubled.
When the server changes UIDVALIDITY (it rebuilt the folder), the folder is
read again from the start; the content pipeline recognises the mails it has
already filed by their Message-ID, which ``parse`` always fills.

The folder is opened read-only (EXAMINE) and bodies are fetched with
``BODY.PEEK[]``, so the cell's own reading of the mailbox (the \\Seen flags)
is left exactly as it was. A run reads at most ``limit`` messages; the rest
wait for the next run (``MailBatch.left``).
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sheets_sync.mail import files
from sheets_sync.mail.errors import MailboxSettingsError, MailboxUnavailable
from sheets_sync.mail.message import Mail
from sheets_sync.mail.parse import parse_message
from sheets_sync.mail.settings import ImapSettings

DEFAULT_LIMIT = 200
#: A fetch asks for messages until their sizes add up to this (memory stays bounded).
GROUP_BYTES = 32 * 1024 * 1024
#: Of a message over the size cap, only this much is downloaded, for its headers and text.
HEAD_BYTES = 1024 * 1024


@dataclass
class MailBatch:
    mails: list[Mail]
    #: Always set: store it with the rows (``ImapSettings.checkpoint_key`` names it).
    checkpoint: str
    warnings: list[str] = field(default_factory=list)
    #: New messages left for the next runs (a run reads at most ``limit``).
    left: int = 0

    @property
    def more(self) -> bool:
        return self.left > 0


def parse_checkpoint(text: str | None) -> tuple[int, int] | None:
    """``(uidvalidity, last_uid)``, or None for no checkpoint (or one nobody could have written)."""
    found = re.fullmatch(r"\s*(\d+):(\d+)\s*", text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def fetch_new(settings: ImapSettings, checkpoint: str | None, *, limit: int = DEFAULT_LIMIT) -> MailBatch:
    """The messages that came since ``checkpoint``, oldest first, at most ``limit`` of them."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    warnings = []
    previous = parse_checkpoint(checkpoint)
    if checkpoint and previous is None:
        warnings.append(f"the mailbox checkpoint {checkpoint!r} in Sync State is not "
                        "'uidvalidity:uid': the folder is read again from the start (mails already "
                        "filed are recognised by their Message-ID)")
    _check_attachments_dir(settings)
    with _session(settings) as conn:
        folder = _examine(conn, settings)
        uidvalidity = folder.uidvalidity
        last = _last_read(previous, folder, settings, warnings)
        uids = _new_uids(conn, last)
        batch = uids[:limit]
        mails = list(_read(conn, settings, uidvalidity, batch, warnings))
    end = batch[-1] if batch else last
    return MailBatch(mails, f"{uidvalidity}:{end}", warnings, left=len(uids) - len(batch))


def _last_read(previous: tuple[int, int] | None, folder: Folder, settings: ImapSettings,
               warnings: list[str]) -> int:
    """The UID after which messages are new: the checkpoint's, unless the folder was renumbered."""
    if previous is None:
        return 0
    if previous[0] != folder.uidvalidity:
        warnings.append(f"the server renumbered the folder {settings.folder} (its UIDVALIDITY "
                        f"changed from {previous[0]} to {folder.uidvalidity}): it is read again from "
                        "the start; mails already filed are recognised by their Message-ID")
        return 0
    if folder.uidnext is not None and previous[1] >= folder.uidnext:
        # The server's numbers went back without a new UIDVALIDITY (a restored backup):
        # new mail could have UIDs below the checkpoint, so read everything again.
        warnings.append(f"the folder {settings.folder} numbers its mail below the checkpoint "
                        f"(UID {previous[1]}, next {folder.uidnext}): it is read again from the "
                        "start; mails already filed are recognised by their Message-ID")
        return 0
    return previous[1]


def _check_attachments_dir(settings: ImapSettings) -> None:
    """Before reading anything: mail whose attachments could not be saved must not be filed."""
    if settings.store is not None:
        settings.store.prepare()  # the Drive folder found or made, or the given one checked
        return
    folder = settings.attachments_dir
    try:
        files.check_folder(folder)
    except OSError as exc:
        raise MailboxSettingsError(files.cannot_save(folder, exc)) from None
    files.remove_stale_parts(folder)


def check(settings: ImapSettings) -> str:
    """One line saying the mailbox can be read, for ``mail --check`` (raises MailboxError)."""
    with _session(settings) as conn:
        folder = _examine(conn, settings)
    return f"{settings.describe()}: {folder.exists} messages"


# -- the connection --------------------------------------------------------------------------

@contextmanager
def _session(settings: ImapSettings) -> Iterator[imaplib.IMAP4]:
    conn = _connect(settings)
    try:
        _login(conn, settings)
        yield conn
    except BaseException as exc:
        # No polite LOGOUT on a connection that failed: it would wait out the timeout again.
        _close(conn)
        if isinstance(exc, (imaplib.IMAP4.abort, OSError)):
            raise MailboxUnavailable(f"the mail server {settings.host}:{settings.port} broke off "
                                     f"({_reason(exc, settings)}); the next run tries again") from None
        if isinstance(exc, imaplib.IMAP4.error):
            raise MailboxUnavailable(f"the mail server {settings.host}:{settings.port} refused a "
                                     f"command ({_reason(exc, settings)}); the next run tries again"
                                     ) from None
        raise
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        pass  # everything was read; a farewell lost on the way changes nothing


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except OSError:
        pass


def _connect(settings: ImapSettings) -> imaplib.IMAP4:
    host, port = settings.host, settings.port
    where = f"{host}:{port}"
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    try:
        if settings.security == "tls":
            return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=settings.timeout)
        conn = imaplib.IMAP4(host, port, timeout=settings.timeout)
        if settings.security == "starttls":
            try:
                _starttls(conn, context, where)
            except BaseException:
                conn.shutdown()
                raise
        return conn
    except ssl.SSLCertVerificationError as exc:
        raise MailboxSettingsError(
            f"the mail server {where} showed a certificate this machine does not trust "
            f"({exc.verify_message}): check SHEETS_SYNC_IMAP_HOST, or set SHEETS_SYNC_IMAP_CA_FILE to "
            "your corporation's certificate authority") from None
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
        raise MailboxUnavailable(f"the mail server {where} broke off the connection before it was "
                                 "set up; the next run tries again") from None
    except ssl.SSLError as exc:
        raise MailboxSettingsError(
            f"{where} does not answer in TLS ({exc.reason or exc}): check SHEETS_SYNC_IMAP_PORT "
            "(993 for tls) and SHEETS_SYNC_IMAP_SECURITY (starttls for port 143)") from None
    except socket.gaierror:
        raise MailboxSettingsError(f"SHEETS_SYNC_IMAP_HOST={host!r}: there is no such host "
                                   "(check the name)") from None
    except ConnectionRefusedError:
        raise MailboxUnavailable(
            f"nothing answers at {where}: check SHEETS_SYNC_IMAP_HOST and SHEETS_SYNC_IMAP_PORT, or "
            "the server is down (the next run tries again)") from None
    except TimeoutError:
        raise MailboxUnavailable(
            f"{where} did not answer within {settings.timeout:g} s: check SHEETS_SYNC_IMAP_PORT and "
            "SHEETS_SYNC_IMAP_SECURITY (tls for port 993), or the server is slow (the next run tries "
            "again)") from None
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxUnavailable(f"the mail server {where} could not be reached "
                                 f"({_reason(exc, settings)}); the next run tries again") from None


def _starttls(conn: imaplib.IMAP4, context: ssl.SSLContext, where: str) -> None:
    if "STARTTLS" not in conn.capabilities:
        raise MailboxSettingsError(f"{where} does not offer STARTTLS: set SHEETS_SYNC_IMAP_SECURITY=tls "
                                   "and SHEETS_SYNC_IMAP_PORT=993")
    conn.starttls(context)


def _login(conn: imaplib.IMAP4, settings: ImapSettings) -> None:
    user, password = settings.user, settings.password
    try:
        if (user + password).isascii():
            conn.login(user, password)
        else:  # LOGIN is ASCII-only in imaplib; PLAIN carries UTF-8
            conn.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        reason = _reason(exc, settings)
        if "UNAVAILABLE" in reason:
            raise MailboxUnavailable(f"the mail server {settings.host} cannot log in anyone now "
                                     f"({reason}); the next run tries again") from None
        raise MailboxSettingsError(
            f"the mail server {settings.host} refused the login of SHEETS_SYNC_IMAP_USER={user!r} "
            f"({reason}): check SHEETS_SYNC_IMAP_PASSWORD (or SHEETS_SYNC_IMAP_PASSWORD_FILE)") from None


def _reason(exc: BaseException, settings: ImapSettings) -> str:
    """The server's words, without a password (a server might echo it) and without b'…'."""
    text = str(exc)
    text = re.sub(r"b'([^']*)'|b\"([^\"]*)\"", lambda m: m.group(1) or m.group(2) or "", text)
    text = re.sub(r"^[A-Z]+ command error: (BAD|NO) \[(.*)\]$", r"\2", text)
    if settings.password:
        text = text.replace(settings.password, "***")
    return re.sub(r"\s+", " ", text).strip()[:200] or type(exc).__name__


@dataclass(frozen=True)
class Folder:
    uidvalidity: int
    exists: int  # messages in it
    uidnext: int | None  # the UID the next message will get, when the server says


def _examine(conn: imaplib.IMAP4, settings: ImapSettings) -> Folder:
    """Open the folder read-only."""
    typ, data = conn.select(quote_folder(settings.folder), readonly=True)
    if typ != "OK":
        folders = _folders(conn)
        known = f" (its folders: {', '.join(folders[:12])})" if folders else ""
        raise MailboxSettingsError(f"SHEETS_SYNC_IMAP_FOLDER={settings.folder!r}: the mailbox "
                                   f"{settings.user} has no such folder{known}")
    _, values = conn.response("UIDVALIDITY")
    if not values or values[0] is None:
        raise MailboxUnavailable(f"the mail server {settings.host} did not say the folder's "
                                 "UIDVALIDITY; it cannot be read safely")
    exists = int(data[0]) if data and data[0] and data[0].isdigit() else 0
    _, following = conn.response("UIDNEXT")
    uidnext = int(following[0]) if following and following[0] and following[0].isdigit() else None
    return Folder(int(values[0]), exists, uidnext)


def _folders(conn: imaplib.IMAP4) -> list[str]:
    typ, data = conn.list()
    names = []
    for line in data if typ == "OK" else []:
        found = re.search(rb'(?:"(?:[^"\\]|\\.)*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$', line or b"")
        if found:
            names.append(_unutf7((found.group(1) or found.group(2)).decode("ascii", "replace")))
    return sorted(names, key=lambda n: (n.upper() != "INBOX", n))


def _new_uids(conn: imaplib.IMAP4, last: int) -> list[int]:
    typ, data = conn.uid("SEARCH", None, f"UID {last + 1}:*")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SEARCH {typ} {data!r}")
    # "N:*" also matches the highest UID when it is below N: keep only the new ones.
    found = {int(u) for chunk in data if chunk for u in chunk.split()}
    return sorted(u for u in found if u > last)


# -- the messages ----------------------------------------------------------------------------

def _read(conn: imaplib.IMAP4, settings: ImapSettings, uidvalidity: int, uids: list[int],
          warnings: list[str]) -> Iterator[Mail]:
    facts = _facts(conn, uids)
    for group in _groups(uids, facts, settings.max_message_bytes):
        bodies = _bodies(conn, group, facts, settings.max_message_bytes)
        for uid in group:
            if uid not in bodies:
                # Gone between the search and the fetch (someone deleted it): nothing to file.
                warnings.append(f"message UID {uid} of {settings.folder} was deleted while it was read")
                continue
            size, received = facts.get(uid, (0, None))
            yield parse_message(bodies[uid], settings, uidvalidity=uidvalidity, uid=uid,
                                received=received, complete=size <= settings.max_message_bytes,
                                size=size)


def _facts(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, tuple[int, datetime | None]]:
    if not uids:
        return {}
    typ, data = conn.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE INTERNALDATE)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH {typ} {data!r}")
    out = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        uid = re.search(rb"\bUID (\d+)", line or b"")
        size = re.search(rb"\bRFC822\.SIZE (\d+)", line or b"")
        when = re.search(rb'\bINTERNALDATE "([^"]+)"', line or b"")
        if uid and size:
            out[int(uid.group(1))] = (int(size.group(1)), _internaldate(when.group(1)) if when else None)
    return out


def _groups(uids: list[int], facts: dict, cap: int) -> Iterator[list[int]]:
    group, total = [], 0
    for uid in uids:
        size = min(facts.get(uid, (0, None))[0], cap)
        if group and total + size > GROUP_BYTES:
            yield group
            group, total = [], 0
        group.append(uid)
        total += size
    if group:
        yield group


def _bodies(conn: imaplib.IMAP4, group: list[int], facts: dict, cap: int) -> dict[int, bytes]:
    whole = [u for u in group if facts.get(u, (0, None))[0] <= cap]
    heads = [u for u in group if u not in whole]
    out: dict[int, bytes] = {}
    if whole:
        out.update(_literals(conn, whole, "BODY.PEEK[]"))
    if heads:
        out.update(_literals(conn, heads, f"BODY.PEEK[]<0.{HEAD_BYTES}>"))
    return out


def _literals(conn: imaplib.IMAP4, uids: list[int], item: str) -> dict[int, bytes]:
    typ, data = conn.uid("FETCH", _uid_set(uids), f"(UID {item})")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH {typ} {data!r}")
    out = {}
    for i, part in enumerate(data):
        if not isinstance(part, tuple):
            continue
        meta = part[0]
        after = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
        uid = re.search(rb"\bUID (\d+)", meta + b" " + after)
        if uid and re.search(rb"BODY\[\]", meta):
            out[int(uid.group(1))] = part[1]
    return out


def _uid_set(uids: list[int]) -> str:
    return ",".join(map(str, uids))


_MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}


def _internaldate(value: bytes) -> datetime | None:
    """``" 4-Dec-2026 10:15:00 +0530"`` (the server's receipt time), aware."""
    found = re.fullmatch(rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)",
                         value)
    if not found:
        return None
    d, mon, y, hh, mm, ss, sign, oh, om = (g.decode() for g in found.groups())
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    try:
        return datetime(int(y), _MONTHS[mon.title()], int(d), int(hh), int(mm), int(ss),
                        tzinfo=timezone(offset))
    except (KeyError, ValueError):
        return None


def quote_folder(folder: str) -> str:
    """A folder name as IMAP writes it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out, run = [], []

    def flush() -> None:
        if run:
            packed = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + packed.replace("/", ",") + "-")
            run.clear()

    for ch in folder:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    name = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}"'


def _unutf7(name: str) -> str:
    def decode(m: re.Match) -> str:
        packed = m.group(1)
        if not packed:
            return "&"
        packed = packed.replace(",", "/")
        return base64.b64decode(packed + "=" * (-len(packed) % 4)).decode("utf-16-be", "replace")
    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, name)
