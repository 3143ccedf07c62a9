"""Point Google API clients at another base URL (a local fake, a proxy).

gspread builds its URLs from module constants (``https://sheets.googleapis.com/v4/...``
and ``https://www.googleapis.com/drive/v3/...``), so the clean way to reach another host
is a transport adapter mounted on the ``requests.Session`` that gspread is given: the
adapter rewrites the scheme+host of each request and sends it on.  Everything else
(paths, query strings, bodies, the ``Authorization`` header added by
``google.auth.transport.requests.AuthorizedSession``) is left untouched.

Production code calls :func:`session_for` and gets a plain ``AuthorizedSession`` unless
``SHEETS_SYNC_API_ENDPOINT`` is set::

    session = session_for(credentials=creds)        # honours SHEETS_SYNC_API_ENDPOINT
    client = gspread.Client(auth=None, session=session)

Token requests do not go through this session: google-auth posts to the key file's
``token_uri`` with its own transport, so a local token endpoint is reached through
``token_uri`` alone.
"""

from __future__ import annotations

import os

import requests
from requests.adapters import HTTPAdapter

ENV_VAR = "SHEETS_SYNC_API_ENDPOINT"
GOOGLE_PREFIXES = ("https://sheets.googleapis.com/", "https://www.googleapis.com/")

__all__ = ["ENV_VAR", "GOOGLE_PREFIXES", "EndpointAdapter", "mount_endpoint", "session_for"]


class EndpointAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that sends requests for Google API hosts to ``base_url`` instead.

    ``base_url`` is e.g. ``http://127.0.0.1:8089``; a request for
    ``https://sheets.googleapis.com/v4/spreadsheets/X`` goes to
    ``http://127.0.0.1:8089/v4/spreadsheets/X``.
    """

    def __init__(self, base_url: str, prefixes: tuple[str, ...] = GOOGLE_PREFIXES, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/") + "/"
        self.prefixes = prefixes

    def rewrite(self, url: str) -> str:
        for prefix in self.prefixes:
            if url.startswith(prefix):
                return self.base_url + url[len(prefix):]
        return url

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        request.url = self.rewrite(request.url)
        return super().send(request, **kwargs)


def mount_endpoint(session: requests.Session, base_url: str,
                   prefixes: tuple[str, ...] = GOOGLE_PREFIXES) -> requests.Session:
    """Mount an :class:`EndpointAdapter` on ``session`` for each Google prefix."""
    adapter = EndpointAdapter(base_url, prefixes)
    for prefix in prefixes:
        session.mount(prefix, adapter)  # Longest prefix wins in requests.
    return session


def session_for(base_url: str | None = None, credentials=None) -> requests.Session:
    """A session for gspread: ``AuthorizedSession(credentials)`` when credentials are given,
    redirected to ``base_url`` (default: ``$SHEETS_SYNC_API_ENDPOINT``) when one is set."""
    if credentials is not None:
        from google.auth.transport.requests import AuthorizedSession

        session: requests.Session = AuthorizedSession(credentials)
    else:
        session = requests.Session()
    base_url = base_url or os.environ.get(ENV_VAR) or None
    if base_url:
        mount_endpoint(session, base_url)
    return session
