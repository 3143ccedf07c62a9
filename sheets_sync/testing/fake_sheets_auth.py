"""Who is calling the local Sheets fake: service-account keys, the token endpoint, 401s.

google-auth signs a JWT with the key and POSTs it to the key file's ``token_uri``; the
fake's ``/token`` checks it as Google does -- the RS256 signature against the key's
public half (known for keys made by :func:`make_service_account_key` in this process),
and that ``iat``/``exp`` are a window of at most an hour around the fake's clock -- and
hands out an access token for the JWT's ``iss`` -- the key's ``client_email``, which is
the identity every later request acts as.  Tokens expire (an hour, as Google's; a test
may make it shorter, or expire them all at once).  A request without a token, with one
the fake did not hand out, or with an expired one gets Google's 401.

Left out: scopes, and every grant other than the service-account JWT bearer one.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import threading
import time
import urllib.parse
from pathlib import Path

from .fake_sheets_model import ApiError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600.0  # seconds, as Google's
#: The public half of every key made here, by ``private_key_id`` (the JWT's ``kid``).
TRUSTED_KEYS: dict[str, object] = {}
BAD_WINDOW = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
              "timeframe. Check your iat and exp values in the JWT claim.")
SCOPES = ["https://www.googleapis.com/auth/spreadsheets",
          "https://www.googleapis.com/auth/drive"]


def make_service_account_key(email: str, token_uri: str, path: str | Path | None = None,
                             project_id: str | None = None) -> dict:
    """A fresh service-account key file (RSA 2048 made now), shaped like Google's.

    ``token_uri`` should be the fake's ``/token``.  Written as JSON to ``path`` if given.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = secrets.token_hex(20)
    TRUSTED_KEYS[key_id] = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    project_id = project_id or (email.split("@", 1)[1].split(".", 1)[0]
                                if "@" in email else "test-project")
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": str(random.randint(10**20, 10**21 - 1)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                + urllib.parse.quote(email),
        "universe_domain": "googleapis.com",
    }
    if path is not None:
        Path(path).write_text(json.dumps(info, indent=2))
    return info


def redirect_session(base_url: str, credentials=None):
    """A ``requests.Session`` (``AuthorizedSession`` with credentials) sent to ``base_url``."""
    from sheets_sync.endpoint import session_for

    return session_for(base_url, credentials)


def unauthenticated(missing: bool, expired: bool = False) -> ApiError:
    head = ("Request is missing required authentication credential." if missing
            else "Request had invalid authentication credentials.")
    reason = ("CREDENTIALS_MISSING" if missing else "ACCESS_TOKEN_EXPIRED" if expired
              else "ACCESS_TOKEN_TYPE_UNSUPPORTED")
    return ApiError(401, head + " Expected OAuth 2 access token, login cookie or other valid "
                    "authentication credential. See https://developers.google.com/identity/"
                    "sign-in/web/devconsole-project.",
                    details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                              "reason": reason,
                              "domain": "googleapis.com",
                              "metadata": {"service": "sheets.googleapis.com"}}])


def jwt_parts(assertion: str) -> tuple[dict, dict, bytes, bytes] | None:
    """(header, claims, signed bytes, signature) of a well-formed 3-part JWT."""
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        header, claims = (json.loads(_b64(p)) for p in parts[:2])
        signature = _b64(parts[2])
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_claims(assertion: str) -> dict | None:
    """The payload of a well-formed 3-part JWT (the signature is not checked)."""
    parts = jwt_parts(assertion)
    return parts[1] if parts else None


def _signed_by_trusted_key(header: dict, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = TRUSTED_KEYS.get(str(header.get("kid", "")))
    if key is None or header.get("alg") != "RS256":
        return False
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
    except InvalidSignature:
        return False
    return True


class TokenStore:
    """The access tokens the fake handed out, each with its identity and expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self.lifetime = TOKEN_LIFETIME
        self.clock_offset = 0.0  # seconds the fake's clock runs ahead of this machine's

    def now(self) -> float:
        return time.time() + self.clock_offset

    def mint(self, identity: str, lifetime: float | None = None) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (identity, self.now() + (lifetime or self.lifetime))
        return token

    def identity(self, authorization: str) -> str:
        """Who an ``Authorization`` header speaks for; Google's 401 when nobody (any more)."""
        if not authorization.lower().startswith("bearer "):
            raise unauthenticated(missing=True)
        with self._lock:
            found = self._tokens.get(authorization[7:].strip())
        if found is None:
            raise unauthenticated(missing=False)
        if found[1] <= self.now():
            raise unauthenticated(missing=False, expired=True)
        return found[0]

    def expire_all(self) -> None:
        """Every token handed out so far expires now (a long run outlives its token)."""
        with self._lock:
            self._tokens = {t: (who, 0.0) for t, (who, _) in self._tokens.items()}

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
        self.lifetime = TOKEN_LIFETIME
        self.clock_offset = 0.0


def token_grant(raw_body: bytes, tokens: TokenStore) -> tuple[int, dict, str | None]:
    """Answer a token request: (status, body, identity or None)."""
    form = urllib.parse.parse_qs(raw_body.decode("utf-8", "replace"))
    grant = form.get("grant_type", [""])[0]
    if grant != JWT_GRANT:
        return 400, {"error": "unsupported_grant_type",
                     "error_description": "Invalid grant_type: " + grant}, None
    parts = jwt_parts(form.get("assertion", [""])[0])
    if not parts or not parts[1].get("iss"):
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}, None
    header, claims, signed, signature = parts
    if not _signed_by_trusted_key(header, signed, signature):
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, None
    if not _current(claims, tokens.now()):
        return 400, {"error": "invalid_grant", "error_description": BAD_WINDOW}, None
    return 200, {"access_token": tokens.mint(claims["iss"]), "expires_in": int(tokens.lifetime),
                 "token_type": "Bearer"}, claims["iss"]


def _current(claims: dict, now: float) -> bool:
    """Google's window: issued at most a little in the future, not expired, an hour at most."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        return False
    return iat <= now + 60 and exp > now and exp - iat <= 3600
