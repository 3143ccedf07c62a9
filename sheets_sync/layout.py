"""How each tab looks, computed once from the schema: pure, no I/O.

Both backends render the same :class:`TabLayout` (a workbook with openpyxl, Google
Sheets with batchUpdate requests), so a rule of the sheet officers work in (what
wraps, what is frozen, which rows turn red or amber, what prints how) is written
here once. The column order is the schema's, for new tabs only: a tab that exists
keeps its columns where people have them, found by their headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sheets_sync.schema import LANGUAGES, Schema, Tab, normalize_header

# Marks the job's own colour rules, so a run adds them once and never touches a person's.
RULE_MARK = "sheets-sync"
OVERDUE_COLOUR = "F4C7C3"  # light red
DUE_SOON_COLOUR = "FCE8B2"  # amber
LINK_FIELDS = ("url", "reply_url")  # cells that hold a link to a comment, post or reply
# People's columns only the cell may change, on Google Sheets (where that can be enforced):
# the approval of a reply the corporation publishes, and moving a comment to another
# department (a department must not hand its work to another by itself).
CELL_ONLY_FIELDS = ("approve", "move_to")
CHECKBOX_FIELDS = ("approve",)
# Tabs whose rows hold a comment or a post: what officers read and answer in.
WORK_TABS = ("posts", "comments")
TALL_ROW = 60  # points: a paragraph of a comment, four or five lines
# The department tabs' columns before the comment's text came first: an existing
# tracker's tabs keep this order (see guess_header).
LEGACY_PENDING_FIELDS = ("comment_id", "platform", "post", "text", "author", "commented_at", "due_at",
                         "overdue", "url", "status", "reply", "replied_by", "notes", "synced")


@dataclass(frozen=True)
class ColumnLayout:
    field: str
    header: str  # what a new tab is given
    width: int  # pixels
    wrap: bool
    hidden: bool
    people: bool  # a column people type in (its header is coloured)
    link: bool  # its values are links, made clickable
    choices: tuple[str, ...] = ()  # a dropdown
    help: str = ""  # shown where people choose a value
    checkbox: bool = False  # a tick box (a TRUE/FALSE choice where there are no tick boxes)
    cell_only: bool = False  # people's, but only the cell may edit it


@dataclass(frozen=True)
class RowRule:
    """A colour a row takes while ``formula`` (for row 2, columns by letter) is true;
    rules earlier in a layout win."""

    name: str
    formula: str
    colour: str  # RRGGBB

    @property
    def mark(self) -> str:
        """What the formula carries to be known as the job's (a tab gets each rule once)."""
        return f'N("{RULE_MARK}")' if self.name == "overdue" else f'N("{RULE_MARK} {self.name}")'


@dataclass(frozen=True)
class PrintSetup:
    paper: str = "A4"
    landscape: bool = True
    pages_wide: int = 1
    repeat_header: bool = True
    #: The last column printed (a field), or None for every column: the Content and
    #: Comments tabs' 28 to 33 columns on one page wide print too small to read.
    through: str | None = None


#: How the main tabs print (a department's tab prints whole): the cell prints the list of
#: requests up to their Status, and the comments up to Overdue; the rest stays on screen.
PRINTED = {"content": PrintSetup(through="status"), "comments": PrintSetup(through="overdue"),
           "posts": PrintSetup()}


@dataclass(frozen=True)
class TabLayout:
    tab: str
    columns: tuple[ColumnLayout, ...]
    hidden: bool = False
    frozen_rows: int = 1
    frozen_columns: int = 0
    row_height: int | None = None  # points, for data rows where the backend sets it
    header_height: int | None = None  # points: two lines where headers are in two languages
    print_setup: PrintSetup | None = None
    filter: bool = True

    def column(self, field_name: str) -> ColumnLayout | None:
        return next((c for c in self.columns if c.field == field_name), None)

    def row_rules(self, tab: Tab, letters: Mapping[str, str], schema: Schema) -> list[RowRule]:
        """The row colours, for a header row whose columns are at ``letters`` (normalised
        header → column letter); red (overdue) first, so it wins over amber."""
        def letter(name: str) -> str | None:
            try:
                return tab.index_of(name, letters)
            except KeyError:
                return None

        due, status, reply = letter("due_at"), letter("status"), letter("reply")
        if not (due and status and reply):
            return []
        waiting = _waiting(status, reply, schema)
        rules = [RowRule("overdue", f'AND(${due}2<>"",{waiting},NOW()>VALUE(${due}2),'
                                    f'N("{RULE_MARK}")=0)', OVERDUE_COLOUR)]
        soon = letter("due_soon_at")
        if soon:
            rules.append(RowRule("due_soon", f'AND(${soon}2<>"",{waiting},NOW()>=VALUE(${soon}2),'
                                             f'N("{RULE_MARK} due_soon")=0)', DUE_SOON_COLOUR))
        return rules


def _waiting(status: str, reply: str, schema: Schema) -> str:
    open_ = ",".join(f'${status}2="{s.name}"' for s in schema.statuses if s.open)
    return f'OR(${status}2="",{open_}),${reply}2=""'


def tab_layout(schema: Schema, tab: Tab) -> TabLayout:
    """How ``tab`` looks (a department's tab: ``tab.department`` is set)."""
    choices = {"status": tuple(schema.status_names), "category": tuple(schema.category_names)}
    helps = {"status": schema.status_help}
    if tab.name == "content":  # the requests' own statuses and kinds
        from sheets_sync.content_settings import content_settings

        settings = content_settings(schema)
        choices = {"status": settings.statuses, "kind": settings.kind_names}
        helps = {}
    work = tab.department is not None or tab.name in WORK_TABS
    columns = tuple(ColumnLayout(
        c.field, c.header, c.width, c.wrap, c.hidden, c.owner == "people",
        c.field in LINK_FIELDS and work,
        choices.get(c.field, ()) if tab.name != "report" else (),
        helps.get(c.field, "") if tab.name != "report" else "",
        checkbox=c.field in CHECKBOX_FIELDS, cell_only=c.field in CELL_ONLY_FIELDS) for c in tab.columns)
    return TabLayout(
        tab.name, columns, hidden=tab.hidden,
        frozen_columns=1 if work else 0,
        row_height=TALL_ROW if work and any(c.wrap for c in columns) else None,
        header_height=45 if schema.language != "en" else 30,
        print_setup=PRINTED.get(tab.name, PrintSetup() if tab.department is not None else None))


def is_link(value: str) -> bool:
    """Only a web address becomes a clickable link: never a formula, never another scheme."""
    text = str(value).strip()
    return text.lower().startswith(("https://", "http://")) and not any(c.isspace() for c in text)


def guess_header(tab: Tab, comments_header: Sequence[str] | None, schema: Schema) -> list[str]:
    """The header row a department's tab most likely has, before it is read, told by the
    Comments tab's header row (read in the run's first request): a tracker made with
    this schema has the schema's order and language; one made before has the older
    order, and its language shows in the Comments tab's headers. A wrong guess costs
    one read more."""
    comments = schema.tabs.get("comments")
    if comments is None or not comments_header:
        return tab.headers
    shown = [normalize_header(h) for h in comments_header]
    language = _language_of(comments, shown)
    if comments.columns and comments.columns[0].index_in({shown[0]: 0}) == 0 and language == schema.language:
        return tab.headers
    order = [f for f in LEGACY_PENDING_FIELDS if any(c.field == f for c in tab.columns)]
    if comments.columns and comments.columns[0].index_in({shown[0]: 0}) == 0:
        order = [c.field for c in tab.columns]  # the schema's order, in another language
    order += [c.field for c in tab.columns if c.field not in order]
    return [tab.column(f).header_in(language) for f in order]


def _language_of(comments: Tab, shown: Sequence[str]) -> str:
    """The language a Comments tab's headers are in (its Status column tells)."""
    try:
        status = comments.column("status")
    except KeyError:
        return "en"
    return next((lang for lang in LANGUAGES if normalize_header(status.header_in(lang)) in shown), "en")
