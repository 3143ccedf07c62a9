"""Talking to Google: the service-account key, and gspread's HTTP client with timeouts and a bounded retry."""

from __future__ import annotations

import json
import json as _json  # RetryingHTTPClient.request has a parameter named json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, TransportError
from google.oauth2 import service_account
from gspread.exceptions import APIError

from sheets_sync.errors import ConfigError, SheetsSyncError, TrackerError
from sheets_sync.retry import RetryPolicy

log = logging.getLogger(__name__)

SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
)
TIMEOUT = (10, 120)  # connect, read (seconds); Google cuts requests at 180 s



def load_credentials(path: str | os.PathLike | None) -> service_account.Credentials:
    """Read a service-account key; every failure names the file and what to do."""
    path = path or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        raise ConfigError("no Google credentials: pass --credentials KEY.json or set "
                          "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: credentials file not found; pass --credentials with the "
                          "service-account key file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the credentials file "
                          f"({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: not a JSON key file; download the service account's key "
                          "as JSON from the Google Cloud console") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f"{path}: not a service-account key (its \"type\" must be "
                          "\"service_account\"); see credentials.example.json")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{path}: the key has no {missing[0]!r}; download a new key file")
    try:
        return _key_credentials(text, info).with_scopes(SCOPES)  # a copy: its own token
    except (ValueError, GoogleAuthError):
        # The message of these errors can quote the key; never show it.
        raise ConfigError(f"{path}: the private key in the file cannot be read; download a "
                          "new key file") from None



# Reading an RSA key costs 40 ms; the scheduler runs many jobs in one process with one
# key. Only the parsed key is kept: each run's credentials get a token of their own.
_KEYS: dict[str, service_account.Credentials] = {}


def _key_credentials(text: str, info: dict) -> service_account.Credentials:
    found = _KEYS.get(text)
    if found is None:
        if len(_KEYS) >= 8:
            _KEYS.clear()
        found = _KEYS[text] = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    return found


class RetryingHTTPClient(gspread.HTTPClient):
    """gspread's client with timeouts and a bounded, jittered retry.

    gspread's own BackOffHTTPClient never gives up and retries writes that
    may already have been applied. Here reads and quota refusals (429, and
    Drive's 403 ``userRateLimitExceeded``/``rateLimitExceeded``: never applied)
    are retried; a write that failed after it may have reached Google raises
    :class:`UncertainWrite` so the caller can check before resending.

    ``safe=True`` marks a request other than a GET that may be sent again as it
    is (a resumable upload's status query); ``redirects=False`` keeps a 3xx
    answer as the answer (Drive's "308 Resume Incomplete" is no redirect).
    """

    retry = RetryPolicy(attempts=6, base_delay=1.0, max_delay=32.0)

    def __init__(self, auth, session=None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(auth, session)
        self.sleep = sleep
        self.timeout = TIMEOUT

    def request(self, method, endpoint, params=None, data=None, json=None, files=None, headers=None, *,
                safe: bool | None = None, redirects: bool = True):
        safe = method.lower() == "get" if safe is None else safe
        # Google's replies are indented unless asked not to: a third of a big read's bytes.
        if params is None or isinstance(params, dict):
            params = {"prettyPrint": "false", **(params or {})}
        if json is not None:
            # As UTF-8, not \u escapes: Marathi text costs half the bytes (and the
            # payload is the size the 2 MB split measured).
            data = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = {**(headers or {}), "Content-Type": "application/json; charset=utf-8"}
            json = None

        def once():
            try:
                return self._send(method, endpoint, params=params, data=data, files=files, headers=headers,
                                  redirects=redirects)
            except APIError as exc:
                if exc.response.status_code >= 500 and not safe:
                    raise UncertainWrite(f"HTTP {exc.response.status_code}") from exc
                raise
            except (requests.ConnectionError, requests.Timeout, TransportError) as exc:
                if not safe:
                    raise UncertainWrite(type(exc).__name__) from exc
                raise

        def temporary(exc: BaseException) -> bool:
            # A quota refusal (429, Drive's rate-limit 403) was never applied; a read may
            # always be sent again.
            if isinstance(exc, APIError):
                code = exc.response.status_code
                return code == 429 or throttled(exc) or (code >= 500 and safe)
            return isinstance(exc, requests.ConnectionError | requests.Timeout | TransportError)

        try:
            return self.retry.call(once, retry_if=temporary, sleep=self.sleep)
        except (requests.ConnectionError, requests.Timeout, TransportError) as exc:
            raise TrackerError(f"Google Sheets did not answer after {self.retry.attempts} tries "
                               f"({type(exc).__name__}); check the network and run again") from None

    def _send(self, method, endpoint, *, params, data, files, headers, redirects: bool):
        if redirects:
            return super().request(method, endpoint, params=params, data=data, files=files, headers=headers)
        # gspread's request follows redirects (requests' default); this is the same request without.
        response = self.session.request(method, endpoint, params=params, data=data, files=files,
                                        headers=headers, timeout=self.timeout, allow_redirects=False)
        if not response.ok:
            raise APIError(response)
        return response


#: Drive's reasons for a 403 that only says "slow down" (a full Drive or a missing
#: permission is a 403 too, and is not retried).
THROTTLED = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})


def error_reasons(exc: APIError) -> set[str]:
    """The ``reason`` of each of a Google error's ``errors`` (Drive's way of saying which 403)."""
    error = exc.error if isinstance(exc.error, Mapping) else {}
    errors = error.get("errors") if isinstance(error.get("errors"), list) else []
    return {e["reason"] for e in errors if isinstance(e, Mapping) and isinstance(e.get("reason"), str)}


def throttled(exc: APIError) -> bool:
    """Drive's 403 rate limit: ``{"error": {"errors": [{"reason": "userRateLimitExceeded"}]}}``."""
    return exc.response.status_code == 403 and bool(error_reasons(exc) & THROTTLED)


class UncertainWrite(Exception):
    """A write failed in a way that leaves unknown whether Google applied it."""


def key_refused(exc: Exception) -> ConfigError:
    """Google's token endpoint refused the key's sign-in: say why in the user's terms."""
    text = " ".join(str(a) for a in exc.args)
    if "iat and exp" in text or "reasonable timeframe" in text:
        return ConfigError("Google refused the service-account key's sign-in because this "
                           "machine's clock is off (Google checks the time in it); set the clock "
                           "right (e.g. `timedatectl set-ntp true`) and run again")
    if "Signature" in text:
        return ConfigError("Google refused the service-account key (its signature): the key was "
                           "deleted or replaced in the Cloud console; download a new key")
    reason = text.split(":")[0] or "refused"
    return ConfigError(f"Google refused the service-account key ({reason}); check the key file "
                       "is current and not revoked")


def explain(exc: APIError, what: str, *, spreadsheet_id: str, identity: str,
            protections: Iterable[tuple[str, Mapping]] = ()) -> SheetsSyncError:
    """Google's refusal as one line saying what to do; ``protections`` are the
    spreadsheet's (tab title, protected range) as last read, to name the one in the way."""
    code = exc.response.status_code
    error = exc.error if isinstance(exc.error, Mapping) else {}
    message = str(error.get("message", ""))
    if code == 404:
        return TrackerError(f"spreadsheet {spreadsheet_id} not found; check the id or URL in --tracker")
    disabled = _service_disabled(error)
    if code == 403 and disabled is not None:
        return ConfigError(disabled)
    # Google refuses an edit of a protected cell with 400 (403 in older answers).
    if code in (400, 403) and "protected cell or object" in message.lower():
        return TrackerError(f"{what}: Google refused to let {identity} edit a protected range"
                            f"{_in_the_way(protections, identity)}; in Google Sheets open Data → "
                            f"Protect sheets and ranges, open that protection and add {identity} "
                            "as an editor (or remove it), then run again")
    if code == 403:
        return TrackerError(f"spreadsheet {spreadsheet_id} is not shared with {identity}: open it "
                            f"in Google Sheets, click Share, and add {identity} as Editor")
    if code == 401:
        return TrackerError("Google did not accept the credentials (401); check the key file")
    if code == 429:
        return TrackerError(f"{what}: Google's quota is exhausted even after retries "
                            "(60 requests a minute per user); run again in a minute")
    return TrackerError(f"{what}: Google Sheets answered {code}: {message or 'no details'}")


def _service_disabled(error: Mapping) -> str | None:
    """What to do when the key's Cloud project has not enabled the API (403
    ``SERVICE_DISABLED``): a sharing problem it is not."""
    details = error.get("details")
    for item in details if isinstance(details, list) else []:
        if not isinstance(item, Mapping) or item.get("reason") != "SERVICE_DISABLED":
            continue
        meta = item.get("metadata") if isinstance(item.get("metadata"), Mapping) else {}
        service = meta.get("serviceTitle") or meta.get("service") or "the Google Sheets API"
        project = str(meta.get("consumer") or "").removeprefix("projects/") or "of the key"
        url = meta.get("activationUrl") or (
            "https://console.cloud.google.com/apis/library/sheets.googleapis.com")
        return (f"{service} is not enabled in Google Cloud project {project} (the service "
                f"account's project): enable it at {url}, wait a few minutes, and run again")
    return None


def _in_the_way(protections: Iterable[tuple[str, Mapping]], identity: str) -> str:
    """The protections the service account is not an editor of, named by tab and description."""
    names = []
    for title, pr in protections:
        editors = pr.get("editors") if isinstance(pr.get("editors"), Mapping) else {}
        if pr.get("warningOnly") or identity in (editors.get("users") or []):
            continue
        described = pr.get("description")
        names.append(f"tab {title!r}" + (f" ({described})" if described else ""))
    return f" ({'; '.join(sorted(set(names)))})" if names else ""
