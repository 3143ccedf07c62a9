"""The file source: an export folder with posts and comments as CSV or JSON Lines.

The folder holds ``posts.csv`` and ``comments.csv`` (or ``posts.jsonl`` and
``comments.jsonl``). Every problem names the file, the line and the column;
the whole folder is checked before anything is returned, so a bad file
changes nothing in the tracker.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

from sheets_sync.errors import InputError
from sheets_sync.models import PLATFORMS, Comment, Post
from sheets_sync.sources.base import Batch, Source, SourceCheck
from sheets_sync.timeutil import parse_timestamp

POST_COLUMNS = ("platform", "post_id", "posted_at", "text", "url", "department")
COMMENT_COLUMNS = ("platform", "comment_id", "post_id", "parent_id", "author", "author_id",
                   "commented_at", "text", "url", "by_page")
OPTIONAL = {"department", "by_page"}
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", ""}
# In a Python string, a code point in this range is half of a UTF-16 pair without its
# other half (JSON's "\ud800" escape alone): not a character, and no sheet or UTF-8
# file can hold it. CSV never yields one (strict UTF-8 decoding refuses it first).
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class FileSource(Source):
    """Posts and comments from an export folder (the embedded default)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.name = f"files:{self.folder.name or self.folder}"

    def fetch(self, checkpoint: str | None) -> Batch:
        # An export is a full picture: it is read whole every time and the
        # engine skips what the tracker already holds, so no checkpoint.
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: export folder not found; pass --source files:DIR")
        warnings: list[str] = []
        posts = [self._post(rec, where) for rec, where in self._records("posts", POST_COLUMNS, warnings)]
        comments = [self._comment(rec, where)
                    for rec, where in self._records("comments", COMMENT_COLUMNS, warnings)]
        return Batch(posts=_dedupe(posts, "post"), comments=_dedupe(comments, "comment"),
                     warnings=warnings)

    def check(self) -> SourceCheck:
        try:
            batch = self.fetch(None)
        except InputError as exc:
            return SourceCheck(self.name, False, str(exc))
        return SourceCheck(self.name, True,
                           f"{len(batch.posts)} posts and {len(batch.comments)} comments in {self.folder}")

    # -- reading ---------------------------------------------------------------

    def _records(self, stem: str, columns: tuple[str, ...],
                 warnings: list[str]) -> Iterator[tuple[dict, str]]:
        csv_path, jsonl_path = self.folder / f"{stem}.csv", self.folder / f"{stem}.jsonl"
        if csv_path.exists() and jsonl_path.exists():
            raise InputError(f"{self.folder}: both {stem}.csv and {stem}.jsonl exist; keep one")
        if csv_path.exists():
            yield from _read_csv(csv_path, columns, warnings)
        elif jsonl_path.exists():
            yield from _read_jsonl(jsonl_path, columns)
        elif stem == "comments":
            return  # posts without comments yet is a valid export
        else:
            raise InputError(f"{self.folder}: no {stem}.csv or {stem}.jsonl in the export folder")

    def _post(self, rec: dict, where: str) -> Post:
        platform = _platform(rec, where)
        return Post(
            platform=platform,
            post_id=_required(rec, "post_id", where),
            posted_at=_time(rec, "posted_at", where),
            text=rec.get("text") or "",
            url=(rec.get("url") or "").strip(),
            department=(rec.get("department") or "").strip().upper(),
            origin=where,
        )

    def _comment(self, rec: dict, where: str) -> Comment:
        return Comment(
            platform=_platform(rec, where),
            comment_id=_required(rec, "comment_id", where),
            post_id=_required(rec, "post_id", where),
            parent_id=(rec.get("parent_id") or "").strip(),
            author=(rec.get("author") or "").strip(),
            author_id=(rec.get("author_id") or "").strip(),
            commented_at=_time(rec, "commented_at", where),
            text=rec.get("text") or "",
            url=(rec.get("url") or "").strip(),
            by_page=_flag(rec, "by_page", where),
            origin=where,
        )


def _read_text(path: Path) -> str:
    """The file as text; bytes that are not UTF-8 are named by line and column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{path} line {line}, column {column}: not UTF-8 text (byte "
                         f"0x{data[exc.start]:02x}); save the file as UTF-8 (Excel: CSV UTF-8)") from None


def _read_csv(path: Path, columns: tuple[str, ...], warnings: list[str]) -> Iterator[tuple[dict, str]]:
    text = _read_text(path)
    _refuse_semicolons(path, text.partition("\n")[0], columns)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0  # the last line of the previous record
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path}: empty file; the first line must be the header "
                             f"{','.join(columns)}")
        header = [h.strip().lower() for h in header]
        _check_header(path, header, columns)
        unknown = [h for h in header if h and h not in columns]
        if unknown:
            # A mistyped optional column ("dept") would otherwise be dropped without a word.
            warnings.append(f"{path} line 1: column{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(repr(u) for u in unknown)} ignored; the columns read are "
                            f"{','.join(columns)}")
        line = reader.line_num
        for row in reader:
            # A quoted cell may span lines: a record is named by its first line.
            where = f"{path} line {line + 1}"
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(f"{where}: has {len(row)} fields, the header has {len(header)}; "
                                 "check the quoting and the commas")
            yield dict(zip(header, row, strict=True)), where
    except csv.Error as exc:
        # Name the line where the broken record starts: an unclosed quote is found
        # only at the end of the file.
        text = str(exc)
        if text == "unexpected end of data":
            text = "a quoted cell is never closed (unexpected end of data)"
        ends = f" (the record runs to line {reader.line_num})" if reader.line_num > line + 1 else ""
        raise InputError(f"{path} line {line + 1}: {text}{ends}; check the quoting") from None


def _refuse_semicolons(path: Path, first_line: str, columns: tuple[str, ...]) -> None:
    """A header whose names are joined by ``;``: the file was saved the way Excel writes
    CSV where the decimal mark is a comma. Refused rather than guessed at, since such a
    save may also have changed the encoding and the dates; saving it again fixes it."""
    if ";" not in first_line:
        return
    names = {n.strip().strip('"').strip().lower() for n in first_line.lstrip("\ufeff").split(";")}
    if {c for c in columns if c not in OPTIONAL} <= names:
        raise InputError(f"{path} line 1: the file looks ';'-separated (as Excel saves CSV in many "
                         "locales), but an export must be separated by commas; save it again as "
                         "'CSV UTF-8 (Comma delimited)' in Excel, or as Text CSV with field delimiter "
                         "',' and character set UTF-8 in LibreOffice")


def _read_jsonl(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[dict, str]]:
    # Split on line feeds only: JSON strings may hold U+2028 and other characters
    # that str.splitlines() would treat as line ends.
    for number, text in enumerate(_read_text(path).split("\n"), start=1):
        if not text.strip():
            continue
        where = f"{path} line {number}"
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}, column {exc.colno}: not valid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise InputError(f"{where}: each line must be a JSON object {{...}}")
        missing = [c for c in columns if c not in rec and c not in OPTIONAL]
        if missing:
            raise InputError(f"{where}: missing field {missing[0]!r}")
        out = {}
        for key, value in rec.items():
            if isinstance(value, dict | list):
                raise InputError(f"{where}: field {key!r} must be text, a number or true/false, "
                                 f"not {'an object' if isinstance(value, dict) else 'a list'}")
            out[key] = _jsonl_text(value)
            broken = LONE_SURROGATE.search(out[key])
            if broken:
                half = f"\\u{ord(broken.group()):04x}"
                raise InputError(
                    f"{where}: field {key!r}: character {broken.start() + 1} is {half}, "
                    "half of a UTF-16 surrogate pair and not a character; write the pair whole "
                    "(e.g. \\ud83d\\ude4f for 🙏) or remove it, then export again")
        yield out, where


def _jsonl_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_header(path: Path, header: list[str], columns: tuple[str, ...]) -> None:
    for column in columns:
        if column not in header and column not in OPTIONAL:
            raise InputError(f"{path} line 1: missing column {column!r}; the header must be "
                             f"{','.join(columns)}")
    seen = set()
    for h in header:
        if h in seen:
            raise InputError(f"{path} line 1: column {h!r} appears twice")
        seen.add(h)


def _platform(rec: dict, where: str) -> str:
    value = (rec.get("platform") or "").strip().lower()
    if value == "twitter":
        value = "x"
    if value not in PLATFORMS:
        raise InputError(f"{where}: column 'platform': unknown platform {value!r}; "
                         f"use one of {', '.join(PLATFORMS)}")
    return value


def _required(rec: dict, column: str, where: str) -> str:
    value = (rec.get(column) or "").strip()
    if not value:
        raise InputError(f"{where}: column {column!r} is empty; every row needs one")
    return value


def _time(rec: dict, column: str, where: str):
    value = rec.get(column) or ""
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise InputError(f"{where}: column {column!r}: {exc}") from None


def _flag(rec: dict, column: str, where: str) -> bool:
    value = (rec.get(column) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{where}: column {column!r}: {value!r} is not true or false")


def _dedupe(records: list, what: str) -> list:
    """Drop exact repeats (an export may overlap itself); refuse conflicting ones."""
    seen: dict = {}
    out = []
    for rec in records:
        first = seen.get(rec.key)
        if first is None:
            seen[rec.key] = rec
            out.append(rec)
        elif first != rec:
            raise InputError(f"{rec.origin}: {what} id {rec.key[1]!r} ({rec.key[0]}) appears again "
                             f"with different values (first at {first.origin}); keep one")
    return out
