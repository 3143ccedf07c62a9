"""Pytest fixtures for the local Google Sheets fake (register with
``pytest_plugins = ["tests.fake_sheets_fixtures"]``).

* ``fake_sheets`` -- a running :class:`FakeSheetsServer`, shared by the session and reset
  (spreadsheets, tokens, logs, knobs, hooks) before each test, so it costs nothing.
* ``fake_sheets_env`` -- also sets ``SHEETS_SYNC_API_ENDPOINT`` to the fake's URL.
* ``service_account_key`` -- path to a key file for :data:`JOB_EMAIL`, token_uri = fake.
* ``service_account_key_factory`` -- ``make(email) -> Path`` for other identities (people).
* ``gspread_client`` -- a real ``gspread.Client`` for :data:`JOB_EMAIL` talking to the fake.
* ``gspread_client_factory`` -- ``make(email) -> gspread.Client`` for other identities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sheets_sync.testing.fake_sheets import (
    SCOPES,
    FakeSheetsServer,
    make_service_account_key,
    redirect_session,
)

JOB_EMAIL = "sheets-sync@test-project.iam.gserviceaccount.com"

_KEYS: dict[tuple[str, str], dict] = {}  # RSA generation is the slow part: once per identity.


@pytest.fixture(scope="session")
def _fake_sheets_server() -> Iterator[FakeSheetsServer]:
    with FakeSheetsServer() as server:
        yield server


@pytest.fixture
def fake_sheets(_fake_sheets_server: FakeSheetsServer) -> Iterator[FakeSheetsServer]:
    _fake_sheets_server.reset()
    yield _fake_sheets_server
    _fake_sheets_server.reset()


@pytest.fixture
def fake_sheets_env(fake_sheets: FakeSheetsServer, monkeypatch: pytest.MonkeyPatch
                    ) -> FakeSheetsServer:
    monkeypatch.setenv("SHEETS_SYNC_API_ENDPOINT", fake_sheets.url)
    return fake_sheets


@pytest.fixture
def service_account_key_factory(tmp_path: Path, fake_sheets: FakeSheetsServer
                                ) -> Callable[[str], Path]:
    import json

    def make(email: str) -> Path:
        info = _KEYS.get((email, fake_sheets.token_uri))
        if info is None:
            info = _KEYS[(email, fake_sheets.token_uri)] = make_service_account_key(
                email, fake_sheets.token_uri)
        path = tmp_path / f"key-{email.split('@')[0]}.json"
        path.write_text(json.dumps(info, indent=2))
        return path

    return make


@pytest.fixture
def service_account_key(service_account_key_factory: Callable[[str], Path]) -> Path:
    return service_account_key_factory(JOB_EMAIL)


@pytest.fixture
def gspread_client_factory(fake_sheets: FakeSheetsServer,
                           service_account_key_factory: Callable[[str], Path]):
    import gspread
    from google.oauth2 import service_account

    def make(email: str = JOB_EMAIL) -> gspread.Client:
        creds = service_account.Credentials.from_service_account_file(
            str(service_account_key_factory(email)), scopes=SCOPES)
        client = gspread.Client(auth=None, session=redirect_session(fake_sheets.url, creds))
        client.set_timeout(30)
        return client

    return make


@pytest.fixture
def gspread_client(gspread_client_factory):
    return gspread_client_factory(JOB_EMAIL)
