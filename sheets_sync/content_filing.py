"""What one message from the cell's mailbox is: a request, an answer, a suggestion, or
nothing to file (and why). Pure: the message, the requests as they stand, the roster.

The rules (the README's "How a message is filed" says the same for the cell):

1. A reply to the daily digest (its subject marker ``[digest CODE YYYY-MM-DD]``)
   from that department's head or a nodal officer: a suggestion.
2. A message that quotes a request code (``Mail.codes``) is an answer about that
   request. It counts only from the head of the request's department (or, with
   ``content.nodal_may_approve``, one of its nodal officers), only when the mail
   server vouches for the sender (``Mail.authenticated``), and only while the
   request is "Sent for approval". Its first line that is not quoted says
   APPROVE / APPROVED / मंजूर / मान्य (``content.approve_words``): an approval;
   any other text: changes asked. Anything else: ignored, with the reason.
   A message quoting the code from another address of the request's department
   that does not try to approve (more material, a reply to the acknowledgement):
   a **follow-up**, added to the request's row. While the request is "Asked of
   department", any message quoting its code from the department's addresses is
   its answer: a follow-up, which puts the request back to "Received".
3. Anything else from a department's address (head, nodal officers): a new request.
4. Anything from an address no department has: ignored ("unknown sender"), and
   listed for the cell in the Mail Log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sheets_sync.content_settings import ASKED, SENT, ContentSettings
from sheets_sync.mail.message import Mail
from sheets_sync.roster import Roster

REQUEST, APPROVAL, CHANGES, SUGGESTION, IGNORED = "request", "approval", "changes", "suggestion", "ignored"
FOLLOW_UP = "follow-up"
DIGEST_MARK = re.compile(r"\[digest ([A-Za-z0-9_.-]+) (\d{4}-\d{2}-\d{2})\]")
# Where a reply's quoted part starts, when the mail program does not quote with ">".
_QUOTE_HEADS = re.compile(r"^(on .{4,200} wrote:|-+ ?original message ?-+|from: |-----|________________"
                          r"|.{0,80}(यांनी लिहिले|ने लिखा):?$)", re.IGNORECASE)


@dataclass(frozen=True)
class Filing:
    kind: str  # REQUEST, APPROVAL, CHANGES, SUGGESTION or IGNORED
    department: str = ""
    code: str = ""  # the request it concerns
    reason: str = ""  # why ignored
    text: str = ""  # the answer or the suggestion, without the quoted part
    day: date | None = None  # a suggestion: the digest's day

    @property
    def filed_as(self) -> str:
        """The Mail Log's "Filed as", in the cell's words."""
        return {REQUEST: f"request {self.code}", APPROVAL: f"approval of {self.code}",
                CHANGES: f"changes asked for {self.code}", SUGGESTION: "suggestion",
                FOLLOW_UP: f"follow-up on {self.code}",
                IGNORED: "ignored"}[self.kind]


def addresses(roster: Roster) -> dict[str, list[tuple[str, str]]]:
    """Each department address (lower case) → [(department code, "head" or "nodal")]."""
    out: dict[str, list[tuple[str, str]]] = {}
    for dept in roster:
        if dept.head.strip():
            out.setdefault(dept.head.strip().casefold(), []).append((dept.code, "head"))
        for nodal in dept.nodal_officers:
            if nodal.strip():
                out.setdefault(nodal.strip().casefold(), []).append((dept.code, "nodal"))
    return out


def file_mail(mail: Mail, requests: Mapping[str, Mapping[str, str]], roster: Roster,
              settings: ContentSettings, known: Mapping[str, list[tuple[str, str]]] | None = None) -> Filing:
    """What ``mail`` is, given the requests (code → the Content row as it stands now)."""
    known = addresses(roster) if known is None else known
    roles = known.get(mail.sender.strip().casefold(), [])
    # The digest's marker first: an answer to it may quote the requests the digest listed.
    mark = DIGEST_MARK.search(mail.subject)
    if mark and roles:
        code, day = mark.group(1).upper(), _day(mark.group(2))
        if day and any(c == code for c, _ in roles):
            return Filing(SUGGESTION, code, text=own_text(mail.text), day=day)
    codes = [c.upper() for c in mail.codes]
    if codes:
        return _answer(mail, codes, requests, roster, settings, roles)
    if not roles:
        return Filing(IGNORED, reason=f"unknown sender {mail.sender or '(no address)'}: not the head or a "
                      "nodal officer of any department in the Departments tab")
    return Filing(REQUEST, roles[0][0])


def _answer(mail: Mail, codes: list[str], requests: Mapping[str, Mapping[str, str]], roster: Roster,
            settings: ContentSettings, roles: list[tuple[str, str]]) -> Filing:
    code = next((c for c in codes if c in requests), "")
    if not code:
        return Filing(IGNORED, reason=f"unknown code {codes[0]}: no such request in the Content tab")
    row = requests[code]
    department = row.get("department", "").strip()
    resolved = roster.resolve(department) or department
    allowed = {"head", "nodal"} if settings.nodal_may_approve else {"head"}
    text = own_text(mail.text)
    if settings.status(row.get("status", "")) == ASKED and any(c == resolved for c, _ in roles):
        # The department's answer to what the cell asked of it (head or not): a follow-up.
        return Filing(FOLLOW_UP, resolved, code, text=text)
    if not any(c == resolved and role in allowed for c, role in roles):
        if any(c == resolved for c, _ in roles) and not is_approval(text, settings):
            # More material from the department about its request (a reply to the acknowledgement).
            return Filing(FOLLOW_UP, resolved, code, text=text)
        dept = roster.get(resolved)
        head = dept.head if dept and dept.head else "none in the Departments tab"
        who = "head" + (" or a nodal officer" if settings.nodal_may_approve else "")
        return Filing(IGNORED, resolved, code, f"answer about {code} from {mail.sender}, who is not the "
                      f"{who} of {resolved or 'its department'} (head: {head})")
    if not mail.authenticated:
        return Filing(IGNORED, resolved, code, f"answer about {code} not authenticated: "
                      f"{mail.auth_reason or 'the mail server does not vouch for the sender'}")
    status = settings.status(row.get("status", ""))
    if status != SENT:
        return Filing(IGNORED, resolved, code, f"answer about {code}, whose status is "
                      f"{status or 'empty'!r}, not {SENT!r}: the cell did not ask for an approval")
    if is_approval(text, settings):
        return Filing(APPROVAL, resolved, code, text=text)
    return Filing(CHANGES, resolved, code, text=text or "(no text: the answer was empty)")


def own_text(text: str) -> str:
    """A reply's own words: up to where the quoted message starts."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_HEADS.match(stripped):
            break
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


def first_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


def is_approval(text: str, settings: ContentSettings) -> bool:
    """The first line, without its punctuation, a request code and polite words, is one of
    the approving words: "APPROVE", "Approved, thank you sir", "मंजूर आहे". Anything more
    ("Approved with changes: …") is not an approval: the cell reads it as changes."""
    line = re.sub(r"\b[A-Z]{1,6}-\d+\b", " ", first_line(text), flags=re.IGNORECASE)
    said = _words(line)
    return bool(said) and any(said == _words(w) for w in settings.approve_words)


# Words around an approval that change nothing ("Approved. Thank you, sir").
_POLITE = frozenset("sir madam mam thanks thank you please kindly regards ok okay is it hereby "
                    "आहे साहेब धन्यवाद सर कृपया".split())


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in re.sub(r"[^\w\u0900-\u097F]+", " ", text).casefold().split() if w not in _POLITE)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
