"""The tracker's schema (``sheet_schema.yaml``): tabs, columns, owners, statuses, categories.

Loading validates the whole file and reports every problem at once, each with
the line to fix, so the cell fixes the file in one go.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from sheets_sync.errors import ConfigError
from sheets_sync.titles import is_valid_title
from sheets_sync.yamlfile import Located, load_yaml

DEFAULT_SCHEMA = Path(__file__).resolve().parent / "data" / "sheet_schema.yaml"
OWNERS = ("job", "people")

# The tabs and fields the engine relies on; the schema may add more columns.
REQUIRED_FIELDS = {
    "posts": ["platform", "post_id", "posted_at", "department", "routed_by", "text", "url"],
    "comments": [
        "platform", "comment_id", "post_id", "parent_id", "department", "commented_at",
        "author", "text", "url", "by_page", "category", "due_at", "status", "reply",
        "replied_by", "notes",
    ],
    "departments": ["code", "name_en", "name_mr", "head", "nodal_officers", "hashtags",
                    "keywords_en", "keywords_mr", "keywords_hi", "accounts"],
    "sync_log": ["run_at", "command", "source", "posts_added", "comments_added",
                 "rows_updated", "held", "errors"],
    "sync_state": ["source", "checkpoint", "updated_at"],
}
# Tabs a schema may leave out (a tracker without the content pipeline), whose fields the
# engine relies on when they are there.
OPTIONAL_FIELDS = {
    "content": ["request", "department", "subject", "kind", "planned_date", "lead_days", "late", "status",
                "draft_link", "post_id", "approved_by", "approved_at", "approval_message_id", "sender",
                "received", "asked_at", "asked_link", "reminded_at", "flagged_at", "late_told_at",
                "head_answer", "sync_notes", "message_id"],
    "mail_log": ["mail_key", "message_id", "sender", "subject", "received", "filed_as", "reason"],
    "supervision": ["date", "department", "digest_sent", "suggestions"],
}


def normalize_header(text: str) -> str:
    """How headers are compared: case, repeated spaces and edges do not matter."""
    return " ".join(str(text).split()).casefold()


LANGUAGES = ("en", "mr", "mr+en", "en+mr")


@dataclass(frozen=True)
class Column:
    field: str
    header: str  # the header a new tab is given, in the schema's language
    owner: str  # "job" or "people"
    seed: bool = False  # people-owned, but the job writes its first value
    width: int = 120
    help: str = ""
    hidden: bool = False
    # Every header the column is found by, normalised: the one above, its English and
    # Marathi forms alone and combined, and older headers. So a tracker made in
    # another language, or before a header changed, keeps every column.
    known: tuple[str, ...] = ()
    wrap: bool = False  # long text: shown wrapped, on rows tall enough to read it
    english: str = ""  # the header in each language, as the schema gives it
    marathi: str = ""

    def header_in(self, language: str) -> str:
        """The header a tab made in ``language`` gave this column."""
        return headers_in(language, self.english or self.header, self.marathi)[0]

    @property
    def job_writes(self) -> bool:
        return self.owner == "job"

    def index_in(self, positions: Mapping[str, int]) -> int | None:
        """Where the column is in a header row (normalised header → index), or None."""
        for name in self.known or (normalize_header(self.header),):
            if name in positions:
                return positions[name]
        return None


def headers_in(language: str, english: str, marathi: str, older: Sequence[str] = ()) -> tuple[str, tuple]:
    """A column's header in ``language``, and every header it is known by."""
    both = (f"{marathi} / {english}", f"{english} / {marathi}") if marathi else (english, english)
    forms = {"en": english, "mr": marathi or english, "mr+en": both[0], "en+mr": both[1]}
    shown = forms[language]
    known = dict.fromkeys(normalize_header(h) for h in (shown, *forms.values(), *older) if h)
    return shown, tuple(known)


@dataclass(frozen=True)
class Tab:
    name: str  # the schema's name for it ("comments")
    title: str  # what people see on the tab ("Comments")
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    hidden: bool = False
    department: str | None = None  # a department's own tab: that department's code

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, field_name: str) -> Column:
        for c in self.columns:
            if c.field == field_name:
                return c
        raise KeyError(field_name)

    def header_of(self, field_name: str) -> str:
        return self.column(field_name).header

    def index_of(self, field_name: str, positions: Mapping[str, int]) -> int | None:
        """Where a field's column is in a header row, by any of its known headers."""
        return self.column(field_name).index_in(positions)


@dataclass(frozen=True)
class Status:
    name: str
    open: bool
    meaning: str = ""
    marathi: str = ""  # the meaning in Marathi


@dataclass(frozen=True)
class Category:
    name: str
    marathi: str
    reply_within_hours: float
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schema:
    """The tracker as ``sheet_schema.yaml`` describes it: configuration, the same for the
    whole run. What a run finds (a department's tab, the title a person gave it) is the
    session's and the read's, never the schema's."""

    path: Path
    timezone: str
    statuses: tuple[Status, ...]
    categories: tuple[Category, ...]
    tabs: Mapping[str, Tab]
    unassigned: str = "Unassigned"
    extra: Mapping = field(default_factory=dict, compare=False)
    # The template of the per-department pending-action tabs (None: no such tabs).
    pending_tab: Tab | None = None
    # What officers read: en, mr, or both (mr+en: Marathi first), for headers and fixed texts.
    language: str = "en"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tabs", MappingProxyType(dict(self.tabs)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def tab(self, name: str) -> Tab:
        return self.tabs[name]

    @property
    def default_status(self) -> str:
        return self.statuses[0].name

    def status(self, text: str) -> Status | None:
        if text not in self._meanings:
            wanted = normalize_header(text)
            self._meanings[text] = next((s for s in self.statuses if normalize_header(s.name) == wanted),
                                        None)
        return self._meanings[text]

    def category(self, text: str) -> Category | None:
        key = ("category", text)
        if key not in self._meanings:
            wanted = normalize_header(text)
            self._meanings[key] = next((c for c in self.categories if wanted in
                                        (normalize_header(c.name), normalize_header(c.marathi))), None)
        return self._meanings[key]

    @functools.cached_property
    def _meanings(self) -> dict:
        """What a typed status or category means, remembered by the text: asked once
        per row of a 100,000-row tracker."""
        return {}

    def in_language(self, english: str, marathi: str, *, between: str = " / ") -> str:
        """A fixed text officers read, in the schema's language."""
        if not marathi or self.language == "en":
            return english
        return {"mr": marathi, "mr+en": f"{marathi}{between}{english}",
                "en+mr": f"{english}{between}{marathi}"}[self.language]

    @property
    def status_help(self) -> str:
        """What each status means, one line each (shown where people choose one)."""
        return "\n".join(f"{s.name}: {self.in_language(s.meaning, s.marathi)}" for s in self.statuses
                         if s.meaning or s.marathi)

    @property
    def status_names(self) -> list[str]:
        return [s.name for s in self.statuses]

    @property
    def category_names(self) -> list[str]:
        return [c.name for c in self.categories]


_FIELD_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def load_schema(path: Path | str | None = None) -> Schema:
    """Load and validate the schema; raise ConfigError listing every problem."""
    path = Path(path) if path else DEFAULT_SCHEMA
    data, loc = load_yaml(path, "schema")
    problems: list[str] = list(loc.problems)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the schema must be a mapping with 'tabs', 'statuses', 'categories'")
    schema = _build(path, data, loc, problems)
    if problems:
        if len(problems) == 1:
            raise ConfigError(problems[0])
        problems.sort(key=_line_of)  # in the order of the file, to fix top to bottom
        raise ConfigError(f"{path}: {len(problems)} problems: " + "; ".join(problems))
    assert schema is not None
    return schema


def _build(path: Path, data: dict, loc: Located, problems: list[str]) -> Schema | None:
    def problem(keys: tuple, text: str) -> None:
        problems.append(f"{loc.where(*keys)}: {text}")

    language = _check_top(data, problem)
    statuses = _build_statuses(data, loc, problem)
    categories = _build_categories(data, loc, problem)
    tabs = _build_tabs(data, loc, problem, language)
    pending = _build_pending(data, loc, problem, language)
    return Schema(path, str(data.get("timezone", "Asia/Kolkata")), tuple(statuses), tuple(categories), tabs,
                  str(data.get("unassigned") or "Unassigned"),
                  extra={k: v for k, v in data.items() if k not in
                         ("version", "timezone", "statuses", "categories", "tabs", "unassigned",
                          "pending_tab", "language")},
                  pending_tab=pending, language=language)


def _check_top(data: dict, problem) -> str:
    """The top-level keys; returns the language officers read."""
    for key in ("tabs", "statuses", "categories"):
        if key not in data:
            problem((), f"missing '{key}'")
    timezone = data.get("timezone", "Asia/Kolkata")
    if timezone != "Asia/Kolkata":
        problem(("timezone",), f"timezone {timezone!r} is not supported; use Asia/Kolkata")
    language = str(data.get("language", "en")).strip().lower().replace(" ", "")
    if language not in LANGUAGES:
        problem(("language",), f"language {data.get('language')!r}: use one of {', '.join(LANGUAGES)}")
        language = "en"
    return language


def _build_statuses(data: dict, loc: Located, problem) -> list[Status]:
    statuses = []
    for i, item in enumerate(_as_list(data.get("statuses"), ("statuses",), problem)):
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            problem(("statuses", i), "each status needs a 'name'")
            continue
        is_open = item.get("open", False)
        if not isinstance(is_open, bool):
            problem(("statuses", i, "open"), "'open' must be true or false")
        statuses.append(Status(str(item["name"]).strip(), bool(is_open), str(item.get("meaning", "")),
                               str(item.get("marathi", "") or "")))
    _unique([(normalize_header(s.name), ("statuses", i)) for i, s in enumerate(statuses)],
            "status {}", problem, loc)
    if statuses and not statuses[0].open:
        problem(("statuses", 0, "open"), f"the first status ({statuses[0].name!r}) is given to new "
                "comments and must be open: true")
    return statuses


def _build_categories(data: dict, loc: Located, problem) -> list[Category]:
    categories = []
    for i, item in enumerate(_as_list(data.get("categories"), ("categories",), problem)):
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            problem(("categories", i), "each category needs a 'name'")
            continue
        hours = item.get("reply_within_hours")
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
            problem(("categories", i, "reply_within_hours"),
                    f"category {item['name']!r}: reply_within_hours must be a positive number of hours")
            hours = 1
        words = item.get("keywords") or []
        if not isinstance(words, list):
            problem(("categories", i, "keywords"), "keywords must be a list")
            words = []
        categories.append(Category(str(item["name"]).strip(), str(item.get("marathi", "")),
                                   float(hours), tuple(str(w) for w in words)))
    _unique([(c.name, ("categories", i)) for i, c in enumerate(categories)], "category {}", problem, loc)
    return categories


def _build_tabs(data: dict, loc: Located, problem, language: str) -> dict[str, Tab]:
    tabs: dict[str, Tab] = {}
    raw_tabs = data.get("tabs")
    if raw_tabs is not None and not isinstance(raw_tabs, dict):
        problem(("tabs",), "'tabs' must be a mapping of tab names")
        raw_tabs = {}
    for name in REQUIRED_FIELDS:
        if raw_tabs is not None and name not in raw_tabs:
            problem(("tabs",), f"tab '{name}' is missing")
    titles: list[tuple[str, tuple]] = []
    for name, raw in (raw_tabs or {}).items():
        tab = _build_tab(name, raw, loc, problem, language=language)
        if tab:
            tabs[name] = tab
            titles.append((normalize_header(tab.title), ("tabs", name, "title")))
    _unique(titles, "tab title {}", problem, loc)
    return tabs


def _title_of(name, raw, where: tuple, problem) -> str:
    title = str(raw.get("title") or "").strip()
    if not title:
        problem(where, f"tab '{name}' needs a 'title'")
    elif not is_valid_title(title):  # valid in a workbook: then on Google too
        problem(where + ("title",), f"tab title {title!r} has a character or length a spreadsheet refuses "
                                    "(at most 31 characters, none of [ ] : * ? / \\)")
    return title


def _build_pending(data: dict, loc: Located, problem, language: str) -> Tab | None:
    if data.get("pending_tab") is None:
        return None
    pending = _build_tab("pending_tab", data["pending_tab"], loc, problem, where=("pending_tab",),
                         language=language)
    fields = {c.field for c in pending.columns} if pending else set()
    for required in ("comment_id", "platform", "status", "reply", "replied_by", "notes", "synced"):
        if pending and required not in fields:
            problem(("pending_tab", "columns"), f"pending_tab needs a column with field '{required}'")
    return pending


def _build_tab(name, raw, loc, problem, where: tuple | None = None, language: str = "en") -> Tab | None:
    where = where or ("tabs", name)
    if not isinstance(raw, dict):
        problem(where, f"tab '{name}' must be a mapping with 'title' and 'columns'")
        return None
    title = _title_of(name, raw, where, problem)
    columns = []
    places: list[tuple] = []  # where each column is, for duplicates
    for i, item in enumerate(_as_list(raw.get("columns"), where + ("columns",), problem)):
        column = _build_column(name, i, item, where + ("columns", i), problem, language)
        if column is not None:
            columns.append(column)
            places.append(where + ("columns", i))
    _unique([(c.field, at) for c, at in zip(columns, places, strict=True)],
            f"field {{}} in tab '{name}'", problem, loc)
    # No two columns may answer to the same header, in any language.
    _unique([(known, at + ("header",)) for c, at in zip(columns, places, strict=True) for known in c.known],
            f"header {{}} in tab '{name}'", problem, loc)
    fields = {c.field for c in columns}
    _require_fields(name, fields, where, problem)
    key = raw.get("key", [])
    if not isinstance(key, list) or any(k not in fields for k in key):
        problem(where + ("key",), f"tab '{name}': key must list fields of its columns")
        key = []
    return Tab(name, title, tuple(key), tuple(columns), bool(raw.get("hidden", False)))


def _require_fields(name: str, fields: set[str], where: tuple, problem) -> None:
    missing = [f for f in REQUIRED_FIELDS.get(name, OPTIONAL_FIELDS.get(name, [])) if f not in fields]
    if len(missing) == 1:
        problem(where + ("columns",), f"tab '{name}' needs a column with field '{missing[0]}'")
    elif missing:
        problem(where + ("columns",), f"tab '{name}' needs a column for each of the fields "
                f"{', '.join(missing)}")


def _build_column(name: str, i: int, item, at: tuple, problem, language: str) -> Column | None:
    if not isinstance(item, dict):
        problem(at, "each column is a mapping with field, header and owner")
        return None
    fname = str(item.get("field") or "")
    header = str(item.get("header") or "").strip()
    owner = item.get("owner")
    if not _FIELD_RE.match(fname):
        problem(at, f"column {i + 1} of tab '{name}': 'field' must be a lower-case name like post_id")
    if not header:
        problem(at, f"column '{fname}' of tab '{name}' needs a 'header'")
    if owner not in OWNERS:
        problem(at + ("owner",) if "owner" in item else at,
                f"column '{fname}' of tab '{name}': owner must be 'job' or 'people', not {owner!r}")
    seed = item.get("seed", False)
    if seed and owner == "job":
        problem(at + ("seed",), f"column '{fname}': 'seed' only applies to people-owned columns")
    width = item.get("width", 120)
    if isinstance(width, bool) or not isinstance(width, int) or not 20 <= width <= 2000:
        problem(at + ("width",), f"column '{fname}': width must be a whole number of pixels, 20 to 2000")
        width = 120
    older = item.get("older_headers") or []
    if not isinstance(older, list):
        problem(at + ("older_headers",), f"column '{fname}': older_headers must be a list of headers")
        older = []
    marathi = str(item.get("marathi") or "").strip()
    shown, known = headers_in(language, header, marathi, [str(h) for h in older])
    return Column(fname, shown, str(owner), bool(seed), width, str(item.get("help", "")),
                  bool(item.get("hidden", False)), known, bool(item.get("wrap", False)), header, marathi)


def _line_of(problem: str) -> int:
    match = re.match(r".*?:(\d+): ", problem)
    return int(match.group(1)) if match else 0


def _as_list(value, keys, problem) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        problem(keys, "must be a list")
        return []
    return value


def _unique(values: list[tuple[str, tuple]], what: str, problem, loc: Located) -> None:
    """Report a repeated value at the line of the repeat, naming the line of the first."""
    seen: dict[str, tuple] = {}
    for v, keys in values:
        if v in seen:
            problem(keys, what.format(repr(v)) + f" appears twice (first on line {loc.line(*seen[v])})")
        else:
            seen[v] = keys
