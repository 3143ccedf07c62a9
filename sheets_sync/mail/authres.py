"""Does the corporation's mail server vouch for a message's sender? (RFC 8601)

A receiving server checks DKIM and SPF and writes what it found at the top of
the message as ``Authentication-Results: <authserv-id>; dkim=pass
header.d=…; spf=pass smtp.mailfrom=…``. Anyone can write such a header into
the mail they send, so only a header carrying the configured server's
authserv-id counts, and of those only the topmost: servers add their header
above the ones already there (and a well-run server strips any header with its
own id from incoming mail, so a forged one with our id cannot survive below
it either). A message is from its sender when that header says ``dkim=pass``
for the From address's domain (``header.d``, or ``header.i``), or
``spf=pass`` for it (``smtp.mailfrom``). A subdomain of the signing domain
counts, as DMARC's relaxed alignment allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Result:
    method: str  # "dkim", "spf", "dmarc", …
    result: str  # "pass", "fail", "none", …
    props: dict[str, str] = field(default_factory=dict)  # "header.d" → "example.org"


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str
    results: tuple[Result, ...]


def parse(header: str) -> AuthResults | None:
    """One Authentication-Results header; None when it is not one."""
    text = _strip_comments(str(header))
    pieces = [p.strip() for p in _split_outside_quotes(text, ";")]
    if not pieces or not pieces[0]:
        return None
    head = pieces[0].split()
    authserv = _unquote(head[0]).lower()
    results = []
    for piece in pieces[1:]:
        result = _result(piece)
        if result:
            results.append(result)
    return AuthResults(authserv, tuple(results))


def verdict(headers: Iterable[str], sender: str, authserv: str) -> tuple[bool, str]:
    """``(authenticated, reason)`` for a message from ``sender`` (an address).

    ``reason`` says in plain words why not, or "" when authenticated.
    """
    authserv = authserv.lower().strip()
    if not authserv:
        return False, "SHEETS_SYNC_MAIL_AUTHSERV is not set, so no sender can be checked"
    domain = sender.rpartition("@")[2].lower()
    if not domain:
        return False, "the message has no sender address"
    ours = next((r for r in map(parse, headers) if r and r.authserv_id == authserv), None)
    if ours is None:
        return False, f"no Authentication-Results from {authserv} (the corporation's mail server)"
    for r in ours.results:
        if r.method == "dkim" and r.result == "pass" and _aligned(_dkim_domain(r), domain):
            return True, ""
        if r.method == "spf" and r.result == "pass" and _aligned(_spf_domain(r), domain):
            return True, ""
    return False, _why_not(ours, authserv, domain)


def _why_not(ours: AuthResults, authserv: str, domain: str) -> str:
    seen = [r for r in ours.results if r.method in ("dkim", "spf")]
    if not seen:
        return f"{authserv} checked neither DKIM nor SPF for this message"
    said = []
    for r in seen:
        checked = _dkim_domain(r) if r.method == "dkim" else _spf_domain(r)
        if r.result == "pass":
            said.append(f"{r.method}=pass for {checked or 'no domain'}, not the sender's {domain}")
        else:
            said.append(f"{r.method}={r.result}" + (f" for {checked}" if checked else ""))
    return f"{authserv} says " + ", ".join(said)


def _dkim_domain(r: Result) -> str:
    if r.props.get("header.d"):
        return r.props["header.d"].lower()
    return r.props.get("header.i", "").rpartition("@")[2].lower()


def _spf_domain(r: Result) -> str:
    # DMARC aligns SPF on the envelope sender, never on the HELO name.
    return r.props.get("smtp.mailfrom", "").rpartition("@")[2].lower()


def _aligned(checked: str, domain: str) -> bool:
    checked = checked.strip(".")
    if not checked or "." not in checked:
        return False
    return domain == checked or domain.endswith("." + checked)


_RESULT_RE = re.compile(r"^([A-Za-z0-9_.-]+)(?:/\d+)?\s*=\s*([A-Za-z0-9_-]+)(.*)$", re.S)
_PROP_RE = re.compile(r"([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^\s\"]+)")


def _result(piece: str) -> Result | None:
    found = _RESULT_RE.match(piece.strip())
    if not found:
        return None  # "none", or something we do not understand: it proves nothing
    method, result, rest = found.groups()
    props = {}
    for name, value in _PROP_RE.findall(rest):
        props.setdefault(name.lower(), _unquote(value))
    return Result(method.lower(), result.lower(), props)


def _strip_comments(text: str) -> str:
    """Drop (comments), which may nest, but not parentheses inside quoted strings."""
    out, depth, quoted, escaped = [], 0, False, False
    for ch in text:
        if escaped:
            escaped = False
            if not depth:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if not depth:
                out.append(ch)
        elif quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif not depth:
            quoted = ch == '"'
            out.append(ch)
    return "".join(out)


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
