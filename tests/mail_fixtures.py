"""A real IMAP server on loopback for the mail tests: Dovecot, run unprivileged.

Register with ``pytest_plugins = ["tests.mail_fixtures"]`` (tests/conftest.py does).

* ``dovecot`` -- a running :class:`Dovecot` for the session: its own configuration,
  certificate authority, Maildirs and logs in a temporary folder; imaps and plain
  (STARTTLS) ports on 127.0.0.1. Debian's ``dovecot-imapd`` (``.ci/run`` installs it).
* ``mailbox`` -- a fresh :class:`MailUser` on it for each test (its own login and
  Maildir, so tests never see each other's mail), with ``deliver`` (IMAP APPEND
  with an INTERNALDATE, as a mail server delivers) and ``env`` (the
  ``SHEETS_SYNC_IMAP_*`` settings that reach it).

Without Dovecot the tests that need it are skipped and say why, except where
``SHEETS_SYNC_REQUIRE_DOVECOT=1`` (CI): there a missing server is a failure.

Dovecot needs root for nothing here: as an ordinary user it runs every process as
that user. Run as root (a container), it refuses to run its login processes as
root, so it is started as ``nobody`` with its folder owned by ``nobody``.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import grp
import imaplib
import itertools
import os
import pwd
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else "")
PASSWORD = "correct horse 🐎 battery"  # a space and an emoji: the password travels as UTF-8

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.key
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {plain_port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No authentication penalty: a test that logs in with a wrong password must not slow
  # every later login from 127.0.0.1 by seconds (Dovecot's documented way to turn it off).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: stop() still ends Dovecot
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child, before exec: a pytest killed outright takes its Dovecot with it
    (Linux's parent-death signal; set after the switch to ``nobody``, which would clear it)."""
    if _PRCTL is not None:
        _PRCTL(1, 15)  # PR_SET_PDEATHSIG, SIGTERM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificates(folder: Path) -> Path:
    """A test certificate authority and a server certificate for 127.0.0.1 / localhost.

    Returns the CA's PEM (what a client must trust); writes server.pem/server.key.
    """
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sheets-sync test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    return folder / "ca.pem"


class Dovecot:
    """One Dovecot master process and its folder; ``add_user`` makes mailboxes."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sheets-sync-dovecot-"))
        self.host = "127.0.0.1"
        self.tls_port = _free_port()
        self.plain_port = _free_port()
        self.ca_file = make_certificates(self.root)
        self._users = itertools.count(1)
        self.process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            self.user, self.group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        else:
            self.user = pwd.getpwuid(os.getuid()).pw_name
            self.group = grp.getgrgid(os.getgid()).gr_name
        self.uid = pwd.getpwnam(self.user).pw_uid

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        for name in ("run", "state", "home", "users"):
            (self.root / name).mkdir(exist_ok=True)
        (self.root / "dovecot.conf").write_text(_CONFIG.format(
            root=self.root, user=self.user, group=self.group, uid=min(self.uid, 500) or 1,
            plain_port=self.plain_port, tls_port=self.tls_port))
        if os.geteuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, self.uid, pwd.getpwnam(self.user).pw_gid)
            os.chmod(self.root, 0o755)
        extra = {"user": self.user, "group": self.group, "extra_groups": []} if os.geteuid() == 0 else {}
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent, **extra)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                raise RuntimeError(f"dovecot stopped at start: {out.strip()} {self.log.strip()}")
            if self._answers(self.tls_port) and self._answers(self.plain_port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not open its ports in 15 s: {self.log}")

    def _answers(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)  # dovecot's own process group (start_new_session)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, name: str | None = None, password: str = PASSWORD) -> MailUser:
        name = name or f"cell{next(self._users)}"
        # A file per user: Dovecot notices a changed passwd-file by its time, in whole
        # seconds, so users added within one second to one file would not all be seen.
        path = self.root / "users" / name
        path.write_text(f"{name}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        if os.geteuid() == 0:
            os.chown(path, self.uid, pwd.getpwnam(self.user).pw_gid)
        return MailUser(self, name, password)


@dataclass
class MailUser:
    server: Dovecot
    user: str
    password: str

    def connect(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.server.ca_file))
        conn = imaplib.IMAP4_SSL(self.server.host, self.server.tls_port, ssl_context=context)
        conn.authenticate("PLAIN", lambda _: f"\0{self.user}\0{self.password}".encode())
        return conn

    def env(self, tmp: Path | None = None, **more: str) -> dict[str, str]:
        """The settings that read this mailbox over TLS, trusting the test CA."""
        env = {
            "SHEETS_SYNC_IMAP_HOST": self.server.host,
            "SHEETS_SYNC_IMAP_PORT": str(self.server.tls_port),
            "SHEETS_SYNC_IMAP_USER": self.user,
            "SHEETS_SYNC_IMAP_PASSWORD": self.password,
            "SHEETS_SYNC_IMAP_CA_FILE": str(self.server.ca_file),
            "SHEETS_SYNC_MAIL_AUTHSERV": "mail.mahapalika.example",
        }
        if tmp is not None:
            env["SHEETS_SYNC_ATTACHMENTS_DIR"] = str(tmp / "attachments")
        env.update(more)
        return env

    def deliver(self, message: EmailMessage | bytes, *, folder: str = "INBOX",
                received: dt.datetime | None = None, flags: str = "") -> int:
        """Put ``message`` in ``folder`` as a mail server would; returns its UID."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        when = received or dt.datetime.now(dt.UTC)
        conn = self.connect()
        try:
            if folder != "INBOX":
                conn.create(_q(folder))
            typ, data = conn.append(_q(folder), flags or None, imaplib.Time2Internaldate(when), raw)
            assert typ == "OK", data
            return int(data[0].split(b"]")[0].split()[-1])  # [APPENDUID <validity> <uid>]
        finally:
            conn.logout()

    def flags(self, uid: int, folder: str = "INBOX") -> str:
        conn = self.connect()
        try:
            conn.select(_q(folder), readonly=True)
            typ, data = conn.uid("FETCH", str(uid), "(FLAGS)")
            return data[0].decode()
        finally:
            conn.logout()

    def expunge_all(self, folder: str = "INBOX") -> None:
        conn = self.connect()
        try:
            conn.select(_q(folder))
            conn.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
        finally:
            conn.logout()

    def renumber(self, folder: str) -> None:
        """Make the server give ``folder`` a new UIDVALIDITY, keeping its messages, as a
        server does when it rebuilds a folder: copy them out, delete and re-create it."""
        conn = self.connect()
        try:
            conn.create('"Renumbering"')
            conn.select(_q(folder))
            conn.uid("COPY", "1:*", '"Renumbering"')
            conn.close()
            assert conn.delete(_q(folder))[0] == "OK"
            time.sleep(1.1)  # Dovecot's UIDVALIDITY is a time in seconds
            conn.create(_q(folder))
            conn.select('"Renumbering"')
            conn.uid("COPY", "1:*", _q(folder))
            conn.close()
            conn.delete('"Renumbering"')
        finally:
            conn.logout()


def _q(folder: str) -> str:
    from sheets_sync.mail.imap import quote_folder

    return quote_folder(folder)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not DOVECOT:
        if os.environ.get("SHEETS_SYNC_REQUIRE_DOVECOT") == "1":
            pytest.fail("Dovecot is not installed but SHEETS_SYNC_REQUIRE_DOVECOT=1 (CI): "
                        "apt-get install dovecot-imapd")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run does): "
                    "the tests against a real IMAP server are skipped")
    server = Dovecot()
    try:
        server.start()
    except (RuntimeError, OSError, KeyError, subprocess.SubprocessError) as exc:
        server.stop()
        if os.environ.get("SHEETS_SYNC_REQUIRE_DOVECOT") == "1":
            pytest.fail(f"Dovecot could not start: {exc}")
        pytest.skip(f"Dovecot could not start here, so the IMAP tests are skipped: {exc}")
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> MailUser:
    return dovecot.add_user()


def main() -> None:
    """``python -m tests.mail_fixtures``: a Dovecot with a sample mailbox to try the mail job by
    hand; prints the settings to export, runs until Ctrl-C."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop() on kill as on Ctrl-C
    server = Dovecot()
    server.start()
    try:
        box = server.add_user("cell")
        sample = EmailMessage()
        sample["Authentication-Results"] = "mail.mahapalika.example; dkim=pass header.d=mahapalika.example"
        sample["From"] = "आरोग्य विभाग <health@mahapalika.example>"
        sample["To"] = "cell@mahapalika.example"
        sample["Subject"] = "पल्स पोलिओ मोहीम — प्रसिद्धीसाठी माहिती"
        sample.set_content("नमस्कार,\nदि. ५ डिसेंबर २०२६ रोजी प्रसिद्ध करावे.\n")
        sample.add_attachment(b"%PDF-1.4 sample", maintype="application", subtype="pdf",
                              filename="पोलिओ.pdf")
        box.deliver(sample)
        print("Dovecot is serving a sample mailbox. In another terminal:\n")
        for name, value in box.env(Path.cwd()).items():
            print(f"export {name}={shlex.quote(value)}")
        print("\nCtrl-C stops it.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
