"""The state of the local Sheets fake, and how values go into cells and come out.

Nothing here knows about HTTP.  The pieces are:

* :class:`ApiError` -- an error that renders as Google's ``{"error": {...}}`` body;
* :class:`Rect` (a bounded rectangle on one sheet, echoed in A1 as Google does),
  :class:`Cell`, :class:`Sheet`, :class:`Spreadsheet` -- the state.  Cells are
  immutable and kept in a sparse ``dict[(row, col)] -> Cell`` so that a whole
  spreadsheet can be cloned cheaply (shallow dict copies) for atomic writes;
* value input (RAW, and USER_ENTERED for numbers, TRUE/FALSE, ``=`` formulas and
  the dates of :mod:`.fake_sheets_dates`) and rendering (FORMATTED_VALUE /
  UNFORMATTED_VALUE / FORMULA, and CellData; a date in the spreadsheet's locale).

Left out, because neither the backend nor the simulated people use them: named
ranges, merges, filters, notes, colours, formula evaluation (a formula keeps its
text; its value reads as ``#N/A``), and USER_ENTERED times, percentages and the
date forms :mod:`.fake_sheets_dates` does not model (refused).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .fake_sheets_dates import NotModelled, is_date, shown_date, typed_date

MAX_CELL_CHARS = 50_000
MAX_CELLS = 10_000_000

# --------------------------------------------------------------------------- errors

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

PROTECTED_MESSAGE = (
    "You are trying to edit a protected cell or object. Please contact the "
    "spreadsheet owner to remove protection if you need to edit."
)
NO_PERMISSION_MESSAGE = "The caller does not have permission"
NOT_FOUND_MESSAGE = "Requested entity was not found."


class ApiError(Exception):
    """An error answered the way Google answers it: ``{"error": {code, message, status}}``."""

    def __init__(self, code: int, message: str, status: str | None = None,
                 details: list | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = _STATUS.get(code, "UNKNOWN") if status is None else status
        self.details = details

    def body(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}

    def prefixed(self, prefix: str) -> ApiError:
        """Same error with ``prefix`` put before the message (batch requests do this)."""
        return ApiError(self.code, prefix + self.message, self.status, self.details)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ApiError({self.code}, {self.message!r})"


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_implemented(what: str) -> ApiError:
    """A 400 for a part of the API this fake leaves out (never silently wrong)."""
    return ApiError(400, f"fake_sheets does not implement {what}")


def protected_error() -> ApiError:
    """Google refuses an edit of a protected cell with 400 INVALID_ARGUMENT, not 403."""
    return ApiError(400, PROTECTED_MESSAGE)


def json_number(x: float | int) -> float | int:
    """Google prints integral doubles without a fraction (``53`` not ``53.0``)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


# --------------------------------------------------------------------------- state


def col_letters(col: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


_PLAIN_TITLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOKS_LIKE_REF = re.compile(r"^([A-Za-z]{1,3}\d+|R\d*C\d*)$", re.I)  # D3, R1C1


def quote_title(title: str, always: bool = False) -> str:
    """Quote a sheet title the way Google echoes it: only when needed (``'D3'``, spaces...)."""
    if not always and _PLAIN_TITLE.match(title) and not _LOOKS_LIKE_REF.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


@dataclass(frozen=True)
class Rect:
    """A bounded, half-open rectangle ``[r0, r1) x [c0, c1)`` on one sheet."""

    sheet_id: int
    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def rows(self) -> int:
        return self.r1 - self.r0

    @property
    def cols(self) -> int:
        return self.c1 - self.c0

    def intersects(self, other: Rect) -> bool:
        return (self.sheet_id == other.sheet_id and self.r0 < other.r1 and other.r0 < self.r1
                and self.c0 < other.c1 and other.c0 < self.c1)

    def a1(self, title: str, always_quote: bool = False) -> str:
        start = f"{col_letters(self.c0)}{self.r0 + 1}"
        end = f"{col_letters(self.c1 - 1)}{self.r1}"
        cells = start if (self.rows == 1 and self.cols == 1) else f"{start}:{end}"
        return f"{quote_title(title, always_quote)}!{cells}"


@dataclass(frozen=True)
class Cell:
    """One cell.  ``value`` is Google's ExtendedValue (``{"stringValue": ...}`` etc.)."""

    value: dict | None = None
    fmt: dict | None = None  # userEnteredFormat
    validation: dict | None = None

    def is_empty(self) -> bool:
        return not (self.value or self.fmt or self.validation)

    @property
    def formula(self) -> str | None:
        return (self.value or {}).get("formulaValue")


@dataclass
class Sheet:
    props: dict
    cells: dict = field(default_factory=dict)  # (row, col) -> Cell
    protected_ranges: list = field(default_factory=list)
    conditional_formats: list = field(default_factory=list)
    row_meta: dict = field(default_factory=dict)  # index -> DimensionProperties
    col_meta: dict = field(default_factory=dict)

    @property
    def sheet_id(self) -> int:
        return self.props.get("sheetId", 0)

    @property
    def title(self) -> str:
        return self.props["title"]

    @property
    def grid(self) -> dict:
        return self.props.setdefault("gridProperties", {})

    @property
    def row_count(self) -> int:
        return self.grid.get("rowCount", 0)

    @property
    def col_count(self) -> int:
        return self.grid.get("columnCount", 0)

    def whole(self) -> Rect:
        return Rect(self.sheet_id, 0, self.row_count, 0, self.col_count)

    def clone(self) -> Sheet:
        new = copy.deepcopy(replace(self, cells={}))
        new.cells = dict(self.cells)  # Cells are immutable: a shallow copy is enough.
        return new

    def get(self, r: int, c: int) -> Cell | None:
        return self.cells.get((r, c))

    def put(self, r: int, c: int, cell: Cell | None) -> None:
        if cell is None or cell.is_empty():
            self.cells.pop((r, c), None)
        else:
            self.cells[(r, c)] = cell


# What spreadsheets.get shows for a new spreadsheet (recorded from Google).
DEFAULT_FORMAT = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {}, "fontFamily": "arial,sans,sans-serif", "fontSize": 10,
        "bold": False, "italic": False, "strikethrough": False, "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}
DEFAULT_THEME = {
    "primaryFontFamily": "Arial",
    "themeColors": [{"colorType": kind, "color": {"rgbColor": rgb}} for kind, rgb in [
        ("TEXT", {}),
        ("BACKGROUND", {"red": 1, "green": 1, "blue": 1}),
        ("ACCENT1", {"red": 0.25882354, "green": 0.52156866, "blue": 0.95686275}),
        ("ACCENT2", {"red": 0.91764706, "green": 0.2627451, "blue": 0.20784314}),
        ("ACCENT3", {"red": 0.9843137, "green": 0.7372549, "blue": 0.015686275}),
        ("ACCENT4", {"red": 0.20392157, "green": 0.65882355, "blue": 0.3254902}),
        ("ACCENT5", {"red": 1, "green": 0.42745098, "blue": 0.003921569}),
        ("ACCENT6", {"red": 0.27450982, "green": 0.7411765, "blue": 0.7764706}),
        ("LINK", {"red": 0.06666667, "green": 0.33333334, "blue": 0.8}),
    ]],
}


def new_sheet_props(sheet_id: int, title: str, index: int, rows: int = 1000,
                    cols: int = 26) -> dict:
    return {"sheetId": sheet_id, "title": title, "index": index, "sheetType": "GRID",
            "gridProperties": {"rowCount": rows, "columnCount": cols}}


@dataclass
class Spreadsheet:
    id: str
    owner: str
    properties: dict
    sheets: list = field(default_factory=list)
    permissions: dict = field(default_factory=dict)  # email -> "writer" | "reader"
    # Google is known to store some ranges sent without an end bounded to the grid as it
    # was then (a basic filter, in recorded traffic); with this set, the fake does so for
    # protected ranges and conditional format rules too, so a test can see the job extend
    # them as the sheet grows.
    bound_open_ranges: bool = False
    # Named ranges ({namedRangeId, name, range}); a range's name reads like an A1 range.
    named_ranges: list = field(default_factory=list)

    def named_range(self, name: str) -> dict | None:
        return next((n for n in self.named_ranges if n["name"].casefold() == name.casefold()), None)

    def clone(self) -> Spreadsheet:
        new = copy.copy(self)
        new.properties = copy.deepcopy(self.properties)
        new.named_ranges = copy.deepcopy(self.named_ranges)
        new.sheets = [s.clone() for s in self.sheets]
        new.permissions = dict(self.permissions)
        return new

    @property
    def title(self) -> str:
        return self.properties["title"]

    def ordered_sheets(self) -> list[Sheet]:
        return sorted(self.sheets, key=lambda s: s.props.get("index", 0))

    def reindex(self) -> None:
        for i, s in enumerate(self.ordered_sheets()):
            s.props["index"] = i

    def sheet_by_title(self, title: str) -> Sheet | None:
        for s in self.sheets:
            if s.title == title:
                return s
        lowered = title.lower()  # Google resolves titles case-insensitively.
        return next((s for s in self.sheets if s.title.lower() == lowered), None)

    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def first_visible_sheet(self) -> Sheet:
        ordered = self.ordered_sheets()
        return next((s for s in ordered if not s.props.get("hidden")), ordered[0])

    def total_cells(self) -> int:
        return sum(s.row_count * s.col_count for s in self.sheets)

    def role_of(self, identity: str | None) -> str | None:
        if identity is not None and identity == self.owner:
            return "owner"
        return self.permissions.get(identity)


# --------------------------------------------------------------------------- values in and out

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# What Google would turn into a date, time, percentage, grouped number or formula.
_NOT_PARSED = re.compile(r"^[+-].|^\d[\d,./: -]*\d$|%$")
NOT_EVALUATED = {"errorValue": {"type": "N_A", "message": "fake_sheets: formula not evaluated"}}


def check_length(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise bad_request("Your input contains more than the maximum of 50000 characters "
                          "in a single cell.")


def parse_input(value: Any, user_entered: bool, locale: str = "en_US",
                number_format: dict | None = None) -> tuple[dict | None, dict | None]:
    """One JSON value from a values request, typed into a cell of ``number_format`` in a
    spreadsheet of ``locale`` -> (its ExtendedValue, None to clear the cell; the number
    format the cell gets, None to keep its own).

    RAW stores strings exactly as typed.  USER_ENTERED parses the way the Sheets UI
    does for the cases the fake knows: ``'`` forces text, ``=...`` is a formula,
    numbers and TRUE/FALSE are parsed, and the dates of :mod:`.fake_sheets_dates`.
    Other text Google would read as a date, time, percentage, grouped number or
    ``+``/``-`` formula is refused (not implemented).
    """
    check_length(value)
    if isinstance(value, bool):
        return {"boolValue": value}, None
    if isinstance(value, (int, float)):
        return {"numberValue": value}, None
    if not isinstance(value, str):
        value = json.dumps(value)
    if value == "":
        return None, None
    if not user_entered:
        return {"stringValue": value}, None
    return _typed(value, locale, number_format)


def _typed(value: str, locale: str, number_format: dict | None) -> tuple[dict, dict | None]:
    """USER_ENTERED text, as :func:`parse_input` says."""
    if value.startswith("'"):
        return {"stringValue": value[1:]}, None
    if value.startswith("=") and len(value) > 1:
        return {"formulaValue": value}, None
    stripped = value.strip()
    if _NUMBER_RE.match(stripped):
        return {"numberValue": json_number(float(stripped))}, None
    if stripped.upper() in ("TRUE", "FALSE"):
        return {"boolValue": stripped.upper() == "TRUE"}, None
    try:
        typed = typed_date(value, locale, number_format)
    except NotModelled as exc:
        raise not_implemented(str(exc)) from None
    if typed is not None:
        return typed
    if _NOT_PARSED.search(stripped):
        raise not_implemented(f"USER_ENTERED parsing of {value!r} (send it RAW)")
    return {"stringValue": value}, None


def effective_value(cell: Cell) -> dict:
    v = cell.value or {}
    return copy.deepcopy(NOT_EVALUATED) if "formulaValue" in v else dict(v)


def format_number(x: float | int) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = f"{x:.10g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}E{'+' if int(exp) >= 0 else '-'}{abs(int(exp)):02d}"
    return text


def formatted_value(ev: dict) -> str:
    if "stringValue" in ev:
        return ev["stringValue"]
    if "boolValue" in ev:
        return "TRUE" if ev["boolValue"] else "FALSE"
    if "numberValue" in ev:
        return format_number(ev["numberValue"])
    return "#N/A" if "errorValue" in ev else ""


def shown_value(cell: Cell, ev: dict, locale: str) -> str:
    """What the cell shows: a number in a DATE number format as a date (in the spreadsheet's
    locale when the format has no pattern of its own), anything else as above."""
    number_format = (cell.fmt or {}).get("numberFormat")
    if "numberValue" in ev and is_date(number_format):
        try:
            return shown_date(ev["numberValue"], number_format, locale)
        except NotModelled as exc:
            raise not_implemented(str(exc)) from None
    return formatted_value(ev)


def render(cell: Cell | None, option: str, locale: str = "en_US") -> Any:
    """One cell for ``values.get``: FORMATTED_VALUE / UNFORMATTED_VALUE / FORMULA."""
    if cell is None or cell.value is None:
        return ""
    if option == "FORMULA" and cell.formula is not None:
        return cell.formula
    ev = effective_value(cell)
    if option == "FORMATTED_VALUE" or "errorValue" in ev:
        return shown_value(cell, ev, locale)
    if "numberValue" in ev:
        return json_number(ev["numberValue"])  # a date too: its serial
    return ev.get("boolValue", ev.get("stringValue", ""))


def json_copy(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, scalars): what ``copy.deepcopy`` gives,
    five times quicker. Every grid-data read copies every cell's format."""
    if type(value) is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [json_copy(v) for v in value]
    return value


def cell_data(cell: Cell, locale: str = "en_US") -> dict:
    """CellData as ``spreadsheets.get`` with grid data returns it (no effectiveFormat)."""
    out: dict[str, Any] = {}
    if cell.value is not None:
        ev = effective_value(cell)
        out.update(userEnteredValue=dict(cell.value), effectiveValue=ev,
                   formattedValue=shown_value(cell, ev, locale))
    if cell.fmt:
        out["userEnteredFormat"] = json_copy(cell.fmt)
    if cell.validation:
        out["dataValidation"] = json_copy(cell.validation)
    return out
