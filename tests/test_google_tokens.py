"""Google's access tokens expire, and Google checks how a key signs in.

A token lasts an hour; a long run (a first sync of a big tracker, a slow
platform) outlives it and must get a new one and go on. The token endpoint
checks the JWT's signature and that its ``iat``/``exp`` fit the clock: a machine
whose clock is off is told so, not "check the key file".
"""

from __future__ import annotations

import pytest

from sheets_sync.errors import ConfigError
from sheets_sync.testing.fake_sheets_auth import TRUSTED_KEYS
from tests.test_faults import LATER, export, master, officer_types, sync
from tests.trackers import GoogleHarness


@pytest.fixture
def google(request, tmp_path):
    return GoogleHarness.make(request, tmp_path)


def api_statuses(server) -> list[int]:
    return [e["status"] for e in server.requests if not e["path"].startswith("/_fake")]


def test_a_token_that_expires_during_a_run_is_renewed_and_the_run_goes_on(google, tmp_path, roster_file):
    sync(google, export(tmp_path, "e1", 6), roster_file)
    officer_types(google)
    server = google.server
    server.clear_requests()
    seen = {"n": 0}

    def expire_before_the_read(info, when):
        seen["n"] += 1
        if seen["n"] == 3:  # the second request of the run (the lock with the read), before
            # Google answers it: the third (the write) meets the expired token
            server.tokens.expire_all()

    remove = server.on_request(expire_before_the_read)
    try:
        sync(google, export(tmp_path, "e2", 40), roster_file, now=LATER)
    finally:
        remove()
    assert 401 in api_statuses(server)  # the expired token was refused once…
    assert len(server.token_requests) >= 1  # …a new one was fetched, and the run finished
    rows = master(google)
    assert len(rows) == 40 and all(r["Comment ID"] for r in rows.values())


def test_short_lived_tokens_are_renewed_as_often_as_needed(google, tmp_path, roster_file):
    google.server.configure({"token_lifetime": 1})
    sync(google, export(tmp_path, "e1", 12), roster_file)
    assert len(master(google)) == 12
    assert len(google.server.token_requests) >= 2


def test_a_clock_that_is_off_is_named(google, tmp_path, roster_file):
    google.server.configure({"clock_offset": 2 * 3600})  # this machine is two hours behind
    with pytest.raises(ConfigError, match="clock is off"):
        sync(google, export(tmp_path, "e1", 3), roster_file)
    assert [t["status"] for t in google.server.token_requests] == [400]


def test_a_key_google_does_not_know_is_refused_by_its_signature(google, tmp_path, roster_file):
    key_id = __import__("json").loads(google.key.read_text())["private_key_id"]
    trusted = TRUSTED_KEYS.pop(key_id)
    try:
        with pytest.raises(ConfigError, match="signature.*download a new key"):
            sync(google, export(tmp_path, "e1", 3), roster_file)
    finally:
        TRUSTED_KEYS[key_id] = trusted
