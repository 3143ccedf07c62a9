"""Departments and the rules that route a post to one of them.

The roster's home is the tracker's Departments tab: the cell edits it where
everyone can see it, and every run (cron included, on any machine) reads the
current one. ``departments.yaml`` seeds the tab at ``init``; rows the cell has
changed in the sheet are never overwritten from the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sheets_sync.errors import ConfigError
from sheets_sync.yamlfile import load_yaml

DEFAULT_ROSTER = Path(__file__).resolve().parent / "data" / "departments.yaml"
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
LIST_FIELDS = ("nodal_officers", "hashtags", "keywords_en", "keywords_mr", "keywords_hi", "accounts")


@dataclass(frozen=True)
class Department:
    code: str
    name_en: str
    name_mr: str = ""
    head: str = ""
    nodal_officers: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    keywords_en: tuple[str, ...] = ()
    keywords_mr: tuple[str, ...] = ()
    keywords_hi: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    @property
    def keywords(self) -> tuple[str, ...]:
        return self.keywords_en + self.keywords_mr + self.keywords_hi

    def as_row(self) -> dict[str, str]:
        """The Departments tab's cells for this department (lists comma-separated)."""
        row = {"code": self.code, "name_en": self.name_en, "name_mr": self.name_mr, "head": self.head}
        for name in LIST_FIELDS:
            row[name] = ", ".join(getattr(self, name))
        return row


class Roster:
    """The departments, by code, with routing."""

    def __init__(self, departments: Iterable[Department]) -> None:
        self.departments: dict[str, Department] = {}
        for d in departments:
            self.departments[d.code] = d
        self._rules = _compile_rules(self.departments.values())

    def __contains__(self, code: str) -> bool:
        return code in self.departments

    def __iter__(self):
        return iter(self.departments.values())

    def __len__(self) -> int:
        return len(self.departments)

    def get(self, code: str) -> Department | None:
        return self.departments.get(code)

    def resolve(self, text: str) -> str | None:
        """A department code from what a person typed: code or name, any case."""
        memo = self.__dict__.setdefault("_resolved", {})  # asked once per row of the tracker
        if text not in memo:
            memo[text] = self._resolve(text)
        return memo[text]

    def _resolve(self, text: str) -> str | None:
        wanted = text.strip().casefold()
        if not wanted:
            return None
        for d in self.departments.values():
            if wanted in (d.code.casefold(), d.name_en.casefold(), d.name_mr.casefold()):
                return d.code
        # "SWM — Solid Waste Management" as a dropdown might show it.
        head = re.split(r"\s+[—-]\s+", wanted, maxsplit=1)[0]
        for d in self.departments.values():
            if head == d.code.casefold():
                return d.code
        return None

    def route(self, text: str, account: str = "") -> tuple[str | None, str]:
        """Route a post: (department code or None, why) using the roster's rules.

        Accounts win over hashtags, hashtags over keywords; within a kind, the
        department with most matches wins, and a tie is not guessed (None).
        """
        if account:
            owners = [d.code for d in self.departments.values()
                      if account.casefold() in (a.casefold() for a in d.accounts)]
            if len(owners) == 1:
                return owners[0], f"account {account}"
        folded = _fold(text)
        tags = set(re.findall(r"#[\w\u0900-\u097F]+", folded))
        tokens = tokenize(text)
        for kind in ("hashtag", "keyword"):
            scores: dict[str, list[str]] = {}
            for code, rule_kind, needle, shown in self._rules:
                if rule_kind != kind:
                    continue
                hit = (needle in tags) if kind == "hashtag" else _keyword_hit(needle, tokens, folded)
                if hit:
                    scores.setdefault(code, []).append(shown)
            if scores:
                best = max(len(v) for v in scores.values())
                winners = [c for c, v in scores.items() if len(v) == best]
                if len(winners) == 1:
                    return winners[0], f"{kind} {scores[winners[0]][0]}"
                return None, f"{kind}s of {', '.join(sorted(winners))} tie"
        return None, "no rule matched"


def _fold(text: str) -> str:
    """Text as rules compare it: one Unicode form, no case, and the Marathi
    eyelash ra (ऱ, as in कचऱ्याची) read as र, so that कचरा's stem finds it."""
    return unicodedata.normalize("NFC", text).casefold().replace("\u0931", "\u0930")


def tokenize(text: str) -> list[str]:
    """Split into lower-case words; Devanagari vowel signs stay inside their word."""
    out, word = [], []
    for ch in _fold(text):
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


# Devanagari dependent vowel signs: where Marathi and Hindi words inflect.
_VOWEL_SIGNS = {chr(c) for c in range(0x093E, 0x094D)} | {"\u0962", "\u0963"}


def _stems(word: str) -> tuple[str, ...]:
    """The word, and its stem when it ends in a vowel sign that inflection changes
    (रस्ता → रस्त finds रस्त्यावरील, खड्डे → खड्ड finds खड्ड्यांमुळे). Stems of
    fewer than three letters are not used: पानी → पान would find leaves and pages."""
    if word and word[-1] in _VOWEL_SIGNS:
        stem = word[:-1]
        if sum(1 for ch in stem if not unicodedata.category(ch).startswith("M")) >= 3:
            return (word, stem)
    return (word,)


def _keyword_hit(needle: str, tokens: list[str], folded: str) -> bool:
    """A keyword's words in a row, the last one matched at the start of a word:
    Marathi inflects by suffix (पाणी → पाणीपुरवठा), English plurals too
    (pothole → potholes, water supply → water supply's)."""
    parts = tokenize(needle)
    if not parts:  # a symbol or emoji keyword
        return needle in folded
    *head, last = parts
    starts = _stems(last)
    n = len(head)
    for i in range(len(tokens) - n):
        if tokens[i:i + n] == head and tokens[i + n].startswith(starts):
            return True
    return False


def _compile_rules(departments: Iterable[Department]) -> list[tuple[str, str, str, str]]:
    """(code, kind, what to look for, what to show in "Routed by")."""
    rules = []
    for d in departments:
        seen = set()  # a word in both the Marathi and Hindi lists must not count twice
        for tag in d.hashtags:
            tag = "#" + tag.strip().lstrip("#")
            if len(tag) > 1 and _fold(tag) not in seen:
                seen.add(_fold(tag))
                rules.append((d.code, "hashtag", _fold(tag), tag))
        for word in d.keywords:
            if word.strip() and _fold(word.strip()) not in seen:
                seen.add(_fold(word.strip()))
                rules.append((d.code, "keyword", _fold(word.strip()), word.strip()))
    return rules


# --- loading -----------------------------------------------------------------


def load_roster_file(path: Path | str | None = None) -> Roster:
    """Read ``departments.yaml``; report every problem at once with its line."""
    path = Path(path) if path else DEFAULT_ROSTER
    data, loc = load_yaml(path, "department roster")
    items = data.get("departments") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{loc.where('departments')}: the roster needs a 'departments:' list")
    problems: list[tuple[int, str]] = [(_line_of(p), p) for p in loc.problems]
    departments = []
    first_seen: dict[str, int] = {}  # code → line, to name both places of a repeat
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append((loc.line("departments", i), f"{loc.where('departments', i)}: each "
                             "department is a mapping with code, name_en, …"))
            continue
        dept, errs = _check_department(item)
        for field_name, text in errs:
            keys = ("departments", i) + ((field_name,) if field_name in item else ())
            problems.append((loc.line(*keys), f"{loc.where(*keys)}: {text}"))
        code = _code_of(item)
        if code:
            line = loc.line("departments", i, "code")
            if code in first_seen:
                problems.append((line, f"{path}:{line}: department code {code} appears twice "
                                 f"(first on line {first_seen[code]}), keep one"))
            else:
                first_seen[code] = line
        if dept:
            departments.append(dept)
    if problems:
        problems.sort(key=lambda p: p[0])  # in the order of the file
        texts = [text for _, text in problems]
        raise ConfigError(texts[0] if len(texts) == 1 else
                          f"{path}: {len(texts)} problems: " + "; ".join(texts))
    return Roster(departments)


def roster_from_rows(rows: list[tuple[int, Mapping[str, str]]], tab_title: str) -> tuple[Roster, list[str]]:
    """Read the Departments tab. Bad rows are skipped with a warning naming the row.

    A typo in one department's row must not stop 55 others from syncing, so
    problems here are warnings (shown in the summary and the Sync Log). A code
    on two rows (a person copied a row) keeps the first row, as ids do.
    """
    departments, warnings = [], []
    first_row: dict[str, int] = {}
    for row_number, row in rows:
        if not any(str(v).strip() for v in row.values()):
            continue
        dept, errs = department_from_mapping(row)
        if errs:
            warnings.append(f"{tab_title} row {row_number}: {errs[0]}; row ignored until fixed")
            continue
        if dept.code in first_row:
            warnings.append(f"{tab_title} row {row_number}: department code {dept.code} is also on "
                            f"row {first_row[dept.code]}; the job uses row {first_row[dept.code]}, "
                            "delete the copy")
            continue
        first_row[dept.code] = row_number
        departments.append(dept)
    return Roster(departments), warnings


def department_from_mapping(item: Mapping) -> tuple[Department | None, list[str]]:
    dept, errs = _check_department(item)
    return dept, [text for _, text in errs]


def _code_of(item: Mapping) -> str:
    return str(item.get("code") or "").strip().upper()


def _check_department(item: Mapping) -> tuple[Department | None, list[tuple[str, str]]]:
    """The department, or the problems as (field at fault, message)."""
    errs: list[tuple[str, str]] = []
    code = _code_of(item)
    name_en = str(item.get("name_en") or "").strip()
    if not _CODE_RE.match(code):
        errs.append(("code", f"department code {code!r} must be 2-10 capital letters or digits, "
                             "e.g. SWM"))
    if not name_en:
        errs.append(("name_en", f"department {code or '?'} needs an English name (name_en)"))
    lists = {}
    for name in LIST_FIELDS:
        value = item.get(name) or []
        if isinstance(value, str):
            value = [v.strip() for v in re.split(r"[,;\n]", value) if v.strip()]
        elif not isinstance(value, list):
            errs.append((name, f"{code}: {name} must be a list"))
            value = []
        lists[name] = tuple(str(v).strip() for v in value if str(v).strip())
    head = str(item.get("head") or "").strip()
    if head and not _EMAIL_RE.match(head):
        errs.append(("head", f"{code}: head {head!r} is not an e-mail address"))
    for email in lists["nodal_officers"]:
        if not _EMAIL_RE.match(email):
            errs.append(("nodal_officers", f"{code}: nodal officer {email!r} is not an e-mail address"))
    if errs:
        return None, errs
    return Department(code, name_en, str(item.get("name_mr") or "").strip(), head, **lists), []


def _line_of(problem: str) -> int:
    match = re.match(r".*?:(\d+): ", problem)
    return int(match.group(1)) if match else 0
