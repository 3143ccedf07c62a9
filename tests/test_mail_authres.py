"""Authentication-Results (RFC 8601): only our server's word counts, and only for the From domain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheets_sync.mail.authres import parse, verdict

OURS = "mail.mahapalika.example"
SENDER = "hod.health@mahapalika.example"


def test_parse_a_real_header_with_comments_versions_and_quotes():
    r = parse('mail.mahapalika.example 1; (checked at the gateway) '
              'dkim=pass (2048-bit key; unprotected) header.d=mahapalika.example '
              'header.i="@mahapalika.example"'
              ' header.s=sel1 header.b="AbC;d";\r\n\tspf=softfail (sender IP is 203.0.113.9) '
              'smtp.mailfrom=bounce@Lists.Example; dmarc=pass (p=REJECT) header.from=mahapalika.example;'
              ' arc/1=none')
    assert r.authserv_id == OURS
    assert [(x.method, x.result) for x in r.results] == [
        ("dkim", "pass"), ("spf", "softfail"), ("dmarc", "pass"), ("arc", "none")]
    assert r.results[0].props == {"header.d": "mahapalika.example", "header.i": "@mahapalika.example",
                                  "header.s": "sel1", "header.b": "AbC;d"}
    assert r.results[1].props["smtp.mailfrom"] == "bounce@Lists.Example"


def test_no_result_and_junk():
    assert parse("mail.mahapalika.example; none").results == ()
    assert parse("") is None
    assert parse(";;;") is None


@pytest.mark.parametrize("headers, ok, reason", [
    ([f"{OURS}; dkim=pass header.d=mahapalika.example"], True, ""),
    ([f"{OURS.upper()}; DKIM=Pass header.i=@Mahapalika.Example"], True, ""),
    ([f"{OURS}; spf=pass smtp.mailfrom=hod.health@mahapalika.example"], True, ""),
    ([f"{OURS}; spf=pass smtp.mailfrom=mahapalika.example"], True, ""),
    # A subdomain sender, signed by the corporation's domain (DMARC's relaxed alignment).
    ([f"{OURS}; dkim=pass header.d=mahapalika.example"], True, ""),
    ([f"{OURS}; dkim=fail header.d=mahapalika.example; spf=softfail smtp.mailfrom=mahapalika.example"],
     False, f"{OURS} says dkim=fail for mahapalika.example, spf=softfail for mahapalika.example"),
    ([f"{OURS}; dkim=pass header.d=evil.example"], False,
     f"{OURS} says dkim=pass for evil.example, not the sender's mahapalika.example"),
    # A signature by a parent that is no real domain proves nothing.
    ([f"{OURS}; dkim=pass header.d=example"], False,
     f"{OURS} says dkim=pass for example, not the sender's mahapalika.example"),
    ([f"{OURS}; spf=pass smtp.helo=mahapalika.example"], False,
     f"{OURS} says spf=pass for no domain, not the sender's mahapalika.example"),
    ([f"{OURS}; dmarc=pass"], False, f"{OURS} checked neither DKIM nor SPF for this message"),
    ([], False, f"no Authentication-Results from {OURS} (the corporation's mail server)"),
    # The sender wrote a header of its own, with another server's name: it does not count.
    (["mx.evil.example; dkim=pass header.d=mahapalika.example"], False,
     f"no Authentication-Results from {OURS} (the corporation's mail server)"),
    # ... nor one with a look-alike name.
    ([f"{OURS}.evil.example; dkim=pass header.d=mahapalika.example"], False,
     f"no Authentication-Results from {OURS} (the corporation's mail server)"),
    # Our server's header is the topmost: a forged one below it, with our name, is not read.
    ([f"{OURS}; dkim=fail header.d=mahapalika.example",
      f"{OURS}; dkim=pass header.d=mahapalika.example"], False,
     f"{OURS} says dkim=fail for mahapalika.example"),
])
def test_verdict(headers, ok, reason):
    assert verdict(headers, SENDER, OURS) == (ok, reason)


def test_subdomain_sender_and_no_settings():
    assert verdict([f"{OURS}; dkim=pass header.d=mahapalika.example"], "a@health.mahapalika.example",
                   OURS) == (True, "")
    assert verdict([f"{OURS}; dkim=pass header.d=health.mahapalika.example"], SENDER, OURS)[0] is False
    assert verdict([f"{OURS}; dkim=pass header.d=mahapalika.example"], SENDER, "") == (
        False, "SHEETS_SYNC_MAIL_AUTHSERV is not set, so no sender can be checked")
    assert verdict([], "", OURS) == (False, "the message has no sender address")


_PIECES = st.sampled_from(["dkim=pass", "spf=pass", "dkim=fail", " header.d=", " smtp.mailfrom=", "@",
                           "mahapalika.example", ";", "(", ")", '"', "\\", " ", "=", "/1", "x"])


@given(st.lists(st.lists(_PIECES | st.text(max_size=5), max_size=12).map("".join), max_size=4),
       st.booleans(), st.sampled_from([SENDER, "a@evil.example", "", "@", "x@"]))
def test_any_header_gives_a_verdict_never_an_error(pieces, ours, sender):
    headers = [f"{OURS}; {p}" if ours else p for p in pieces]
    ok, reason = verdict(headers, sender, OURS)
    assert ok is False or reason == ""
    assert ok is True or reason
