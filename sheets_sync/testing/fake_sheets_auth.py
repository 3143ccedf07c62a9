"""Who is calling the local Sheets fake: service-account keys, the token endpoint, 401s.

google-auth signs a JWT with the key and POSTs it to the key file's ``token_uri``; the
fake's ``/token`` decodes it (the signature is *not* checked) and hands out an opaque
access token for the JWT's ``iss`` -- the key's ``client_email``, which is the identity
every later request acts as.  A request without a token, or with one the fake did not
hand out, gets Google's 401.

Left out: signature and ``iat``/``exp`` checks, token expiry, scopes, and every grant
other than the service-account JWT bearer one.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from .fake_sheets_model import ApiError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
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
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    project_id = project_id or (email.split("@", 1)[1].split(".", 1)[0]
                                if "@" in email else "test-project")
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
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


def unauthenticated(missing: bool) -> ApiError:
    head = ("Request is missing required authentication credential." if missing
            else "Request had invalid authentication credentials.")
    return ApiError(401, head + " Expected OAuth 2 access token, login cookie or other valid "
                    "authentication credential. See https://developers.google.com/identity/"
                    "sign-in/web/devconsole-project.",
                    details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                              "reason": "CREDENTIALS_MISSING" if missing
                              else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                              "domain": "googleapis.com",
                              "metadata": {"service": "sheets.googleapis.com"}}])


def jwt_claims(assertion: str) -> dict | None:
    """The payload of a well-formed 3-part JWT (the signature is not checked)."""
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def token_grant(raw_body: bytes, mint: Callable[[str], str]) -> tuple[int, dict, str | None]:
    """Answer a token request: (status, body, identity or None)."""
    form = urllib.parse.parse_qs(raw_body.decode("utf-8", "replace"))
    grant = form.get("grant_type", [""])[0]
    if grant != JWT_GRANT:
        return 400, {"error": "unsupported_grant_type",
                     "error_description": "Invalid grant_type: " + grant}, None
    claims = jwt_claims(form.get("assertion", [""])[0])
    if not claims or not claims.get("iss"):
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}, None
    return 200, {"access_token": mint(claims["iss"]), "expires_in": 3600,
                 "token_type": "Bearer"}, claims["iss"]
