"""Data model and pure helpers for the local Google Sheets fake.

Nothing here knows about HTTP.  The pieces are:

* :class:`ApiError` -- an error that renders as Google's ``{"error": {...}}`` body;
* A1 notation (parse and echo) and :class:`Rect`, a bounded rectangle on one sheet;
* :class:`Cell`, :class:`Sheet`, :class:`Spreadsheet` -- the state.  Cells are
  immutable and kept in a sparse ``dict[(row, col)] -> Cell`` so that a whole
  spreadsheet can be cloned cheaply (shallow dict copies) for atomic writes;
* value input (RAW / USER_ENTERED), rendering (FORMATTED_VALUE / UNFORMATTED_VALUE
  / FORMULA) and a tiny arithmetic formula evaluator;
* the ``fields`` mask filter used by ``spreadsheets.get`` and Drive.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import re
import struct
from dataclasses import dataclass, field, replace
from typing import Any

MAX_CELL_CHARS = 50_000
MAX_CELLS = 10_000_000
EPOCH = _dt.date(1899, 12, 30)  # Sheets' day 0

# --------------------------------------------------------------------------- errors

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
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
                 details: list | None = None, extra: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        # status "" = omit it (Drive v3 errors carry "errors" instead).
        self.status = _STATUS.get(code, "UNKNOWN") if status is None else status
        self.details = details
        self.extra = extra or {}

    def body(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        err.update(self.extra)
        if self.status:
            err["status"] = self.status
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}

    def prefixed(self, prefix: str) -> ApiError:
        """Same error with ``prefix`` put before the message (batch requests do this)."""
        return ApiError(self.code, prefix + self.message, self.status, self.details, self.extra)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ApiError({self.code}, {self.message!r})"


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def protected_error() -> ApiError:
    return ApiError(403, PROTECTED_MESSAGE)


# --------------------------------------------------------------------------- numbers & colours


def json_number(x: float | int) -> float | int:
    """Google prints integral doubles without a fraction (``53`` not ``53.0``)."""
    if isinstance(x, bool):
        return x
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def float32(x: float) -> float | int:
    """Colours are float32 in Google's protos; print the shortest float32 repr."""
    f = struct.unpack("f", struct.pack("f", float(x)))[0]
    for digits in range(1, 10):
        s = float(f"{f:.{digits}g}")
        if struct.unpack("f", struct.pack("f", s))[0] == f:
            return json_number(s)
    return f  # pragma: no cover


def norm_color(c: dict | None) -> dict:
    """Google keeps 8 bits per channel (0.5 reads back as 127/255 = 0.49803922), prints
    float32 and drops zero channels (proto3 defaults)."""
    out = {}
    for k in ("red", "green", "blue"):
        v = int(float((c or {}).get(k) or 0) * 255 + 1e-6) / 255
        if v:
            out[k] = float32(v)
    if (c or {}).get("alpha") is not None:
        out["alpha"] = float32(c["alpha"])
    return out


def norm_color_style(s: dict | None) -> dict | None:
    if not s:
        return None
    if s.get("themeColor"):
        return {"themeColor": s["themeColor"]}
    if s.get("rgbColor") is None:
        return None
    return {"rgbColor": norm_color(s["rgbColor"])}


def norm_format(fmt: dict) -> dict:
    """Normalise a CellFormat: colours as float32, and the ``*Style`` twin of every colour."""
    fmt = copy.deepcopy(fmt)
    if "backgroundColor" in fmt or "backgroundColorStyle" in fmt:
        style = norm_color_style(fmt.get("backgroundColorStyle")) or (
            {"rgbColor": norm_color(fmt.get("backgroundColor"))})
        fmt["backgroundColor"] = style.get("rgbColor", {})
        fmt["backgroundColorStyle"] = style
    tf = fmt.get("textFormat")
    if isinstance(tf, dict) and ("foregroundColor" in tf or "foregroundColorStyle" in tf):
        style = norm_color_style(tf.get("foregroundColorStyle")) or (
            {"rgbColor": norm_color(tf.get("foregroundColor"))})
        tf["foregroundColor"] = style.get("rgbColor", {})
        tf["foregroundColorStyle"] = style
    return fmt


# --------------------------------------------------------------------------- A1 notation


def col_letters(col: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


_CELL_RE = re.compile(r"^([A-Za-z]{0,3})(\d{0,7})$")
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

    def contains(self, other: Rect) -> bool:
        return (self.sheet_id == other.sheet_id and self.r0 <= other.r0 and other.r1 <= self.r1
                and self.c0 <= other.c0 and other.c1 <= self.c1)

    def a1(self, title: str, always_quote: bool = False) -> str:
        start = f"{col_letters(self.c0)}{self.r0 + 1}"
        end = f"{col_letters(self.c1 - 1)}{self.r1}"
        cells = start if (self.rows == 1 and self.cols == 1) else f"{start}:{end}"
        return f"{quote_title(title, always_quote)}!{cells}"


def rect_from_grid_range(gr: dict, sheet: Sheet) -> Rect:
    """A GridRange dict (missing bounds = unbounded) clipped to the sheet's grid."""
    rows, cols = sheet.row_count, sheet.col_count
    r0 = gr.get("startRowIndex") or 0
    r1 = gr.get("endRowIndex", rows)
    c0 = gr.get("startColumnIndex") or 0
    c1 = gr.get("endColumnIndex", cols)
    return Rect(sheet.sheet_id, r0, r1 if r1 is not None else rows, c0,
                c1 if c1 is not None else cols)


def grid_range_out(gr: dict) -> dict:
    """A GridRange as Google prints it: ``sheetId`` omitted when 0, set bounds kept."""
    out = {}
    if gr.get("sheetId"):
        out["sheetId"] = gr["sheetId"]
    for k in ("startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex"):
        if gr.get(k) is not None:
            out[k] = gr[k]
    return out


def parse_a1(text: str, book: Spreadsheet) -> tuple[Sheet, dict]:
    """Parse an A1 range to ``(sheet, GridRange-with-optional-bounds)``.

    Accepts ``Sheet1``, ``'My Tab'!A1:B2``, ``A1:B2`` (first visible sheet), ``A:C``,
    ``1:3``, ``A2:C`` (open ended), reversed corners, and named ranges.
    Raises ``Unable to parse range`` like Google.
    """
    err = bad_request(f"Unable to parse range: {text}")
    raw = text.strip()
    if not raw:
        raise err
    sheet: Sheet | None = None
    cells: str | None = raw
    if raw.startswith("'"):
        m = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", raw, re.S)
        if not m:
            raise err
        sheet = book.sheet_by_title(m.group(1).replace("''", "'"))
        if sheet is None:
            raise err
        cells = m.group(2)
    elif "!" in raw:
        title, cells = raw.rsplit("!", 1)
        sheet = book.sheet_by_title(title)
        if sheet is None:
            raise err
    else:
        # A bare word: a cell reference on the first sheet, else a sheet, else a named range.
        if _parse_cells(raw) is None:
            sheet = book.sheet_by_title(raw)
            if sheet is not None:
                cells = None
            else:
                named = book.named_range(raw)
                if named is None:
                    raise err
                return book.sheet_by_id(named["range"].get("sheetId", 0)), dict(named["range"])
        else:
            sheet = book.first_visible_sheet()
    if cells is None or cells == "":
        if cells == "":
            raise err
        return sheet, {"sheetId": sheet.sheet_id}
    bounds = _parse_cells(cells)
    if bounds is None:
        named = book.named_range(cells)
        if named is None or named["range"].get("sheetId", 0) != sheet.sheet_id:
            raise err
        return sheet, dict(named["range"])
    gr = {"sheetId": sheet.sheet_id}
    gr.update({k: v for k, v in bounds.items() if v is not None})
    return sheet, gr


def _parse_cells(cells: str) -> dict | None:
    parts = cells.split(":")
    if len(parts) > 2:
        return None
    ends = []
    for p in parts:
        m = _CELL_RE.match(p)
        if not m or not (m.group(1) or m.group(2)):
            return None
        col = col_index(m.group(1)) if m.group(1) else None
        row = int(m.group(2)) - 1 if m.group(2) else None
        if row is not None and row < 0:
            return None
        ends.append((row, col))
    (ra, ca) = ends[0]
    if len(ends) == 1:
        if ra is None or ca is None:
            return None  # "A" or "5" alone is not a range
        return {"startRowIndex": ra, "endRowIndex": ra + 1,
                "startColumnIndex": ca, "endColumnIndex": ca + 1}
    (rb, cb) = ends[1]
    out: dict[str, int | None] = {}
    # Rows: "A:C" has none; "A2:C" is open below; reversed corners are swapped.
    if ra is None and rb is None:
        out["startRowIndex"] = out["endRowIndex"] = None
    elif ra is None or rb is None:
        out["startRowIndex"], out["endRowIndex"] = (ra if ra is not None else rb), None
    else:
        out["startRowIndex"], out["endRowIndex"] = min(ra, rb), max(ra, rb) + 1
    if ca is None and cb is None:
        out["startColumnIndex"] = out["endColumnIndex"] = None
    elif ca is None or cb is None:
        out["startColumnIndex"], out["endColumnIndex"] = (ca if ca is not None else cb), None
    else:
        out["startColumnIndex"], out["endColumnIndex"] = min(ca, cb), max(ca, cb) + 1
    return out


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Cell:
    """One cell.  ``value`` is Google's ExtendedValue (``{"stringValue": ...}`` etc.)."""

    value: dict | None = None
    fmt: dict | None = None  # userEnteredFormat
    note: str | None = None
    validation: dict | None = None

    def is_empty(self) -> bool:
        return not (self.value or self.fmt or self.note or self.validation)

    @property
    def formula(self) -> str | None:
        return (self.value or {}).get("formulaValue")


@dataclass
class Sheet:
    props: dict
    cells: dict = field(default_factory=dict)  # (row, col) -> Cell
    merges: list = field(default_factory=list)
    protected_ranges: list = field(default_factory=list)
    conditional_formats: list = field(default_factory=list)
    basic_filter: dict | None = None
    filter_views: list = field(default_factory=list)
    row_meta: dict = field(default_factory=dict)  # index -> DimensionProperties
    col_meta: dict = field(default_factory=dict)
    row_groups: list = field(default_factory=list)
    column_groups: list = field(default_factory=list)

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


def _theme_color(kind: str, rgb: dict) -> dict:
    return {"colorType": kind, "color": {"rgbColor": rgb}}


DEFAULT_THEME = {
    "primaryFontFamily": "Arial",
    "themeColors": [
        _theme_color("TEXT", {}),
        _theme_color("BACKGROUND", {"red": 1, "green": 1, "blue": 1}),
        _theme_color("ACCENT1", {"red": 0.25882354, "green": 0.52156866, "blue": 0.95686275}),
        _theme_color("ACCENT2", {"red": 0.91764706, "green": 0.2627451, "blue": 0.20784314}),
        _theme_color("ACCENT3", {"red": 0.9843137, "green": 0.7372549, "blue": 0.015686275}),
        _theme_color("ACCENT4", {"red": 0.20392157, "green": 0.65882355, "blue": 0.3254902}),
        _theme_color("ACCENT5", {"red": 1, "green": 0.42745098, "blue": 0.003921569}),
        _theme_color("ACCENT6", {"red": 0.27450982, "green": 0.7411765, "blue": 0.7764706}),
        _theme_color("LINK", {"red": 0.06666667, "green": 0.33333334, "blue": 0.8}),
    ],
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
    named_ranges: list = field(default_factory=list)
    developer_metadata: list = field(default_factory=list)  # DeveloperMetadata dicts
    permissions: dict = field(default_factory=dict)  # email -> {"id", "role"}
    created: str = ""
    modified: str = ""

    def clone(self) -> Spreadsheet:
        new = copy.copy(self)
        new.properties = copy.deepcopy(self.properties)
        new.sheets = [s.clone() for s in self.sheets]
        new.named_ranges = copy.deepcopy(self.named_ranges)
        new.developer_metadata = copy.deepcopy(self.developer_metadata)
        new.permissions = copy.deepcopy(self.permissions)
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
        for s in self.sheets:
            if s.title.lower() == lowered:
                return s
        return None

    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        for s in self.sheets:
            if s.sheet_id == sheet_id:
                return s
        return None

    def first_visible_sheet(self) -> Sheet:
        for s in self.ordered_sheets():
            if not s.props.get("hidden"):
                return s
        return self.ordered_sheets()[0]

    def named_range(self, name: str) -> dict | None:
        for nr in self.named_ranges:
            if nr["name"].lower() == name.lower():
                return nr
        return None

    def total_cells(self) -> int:
        return sum(s.row_count * s.col_count for s in self.sheets)

    def role_of(self, identity: str | None) -> str | None:
        if identity is None:
            return None
        if identity == self.owner:
            return "owner"
        perm = self.permissions.get(identity)
        return perm["role"] if perm else None


# --------------------------------------------------------------------------- value input

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_PERCENT_RE = re.compile(r"^([+-]?(\d+(\.\d*)?|\.\d+))%$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_DATETIME_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_US_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def check_length(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise bad_request("Your input contains more than the maximum of 50000 characters "
                          "in a single cell.")


def date_serial(d: _dt.date, t: _dt.time | None = None) -> float | int:
    days = (d - EPOCH).days
    if t is None:
        return days
    return days + (t.hour * 3600 + t.minute * 60 + t.second) / 86400


def parse_input(value: Any, user_entered: bool) -> tuple[dict | None, dict | None]:
    """One JSON value from a values request -> (ExtendedValue or None to clear, numberFormat).

    RAW stores strings exactly as typed.  USER_ENTERED parses like the Sheets UI:
    ``=...`` and a leading ``+``/``-`` that is not a number become formulas, numbers,
    percentages, ISO and US dates (as serials with a date format) and TRUE/FALSE are
    parsed, and a leading apostrophe forces text.
    """
    check_length(value)
    if value is None:
        raise AssertionError("callers skip None (leave the cell unchanged)")
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
    s = value
    if s.startswith("'"):
        return {"stringValue": s[1:]}, None
    if s.startswith("=") and len(s) > 1:
        return {"formulaValue": s}, None
    stripped = s.strip()
    if _NUMBER_RE.match(stripped):
        return {"numberValue": json_number(float(stripped))}, None
    if _THOUSANDS_RE.match(stripped):
        return ({"numberValue": json_number(float(stripped.replace(",", "")))},
                {"type": "NUMBER", "pattern": "#,##0.###"})
    m = _PERCENT_RE.match(stripped)
    if m:
        return {"numberValue": float(m.group(1)) / 100}, {"type": "PERCENT", "pattern": "0%"}
    if stripped.upper() in ("TRUE", "FALSE"):
        return {"boolValue": stripped.upper() == "TRUE"}, None
    parsed = _parse_date(stripped)
    if parsed is not None:
        return {"numberValue": parsed[0]}, parsed[1]
    if s[0] in "+-" and len(s) > 1:
        return {"formulaValue": "=" + s}, None
    return {"stringValue": s}, None


def _parse_date(s: str) -> tuple[float | int, dict] | None:
    try:
        m = _ISO_DATE_RE.match(s)
        if m:
            d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return date_serial(d), {"type": "DATE", "pattern": "yyyy-mm-dd"}
        m = _ISO_DATETIME_RE.match(s)
        if m:
            d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            t = _dt.time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))
            return date_serial(d, t), {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm:ss"}
        m = _US_DATE_RE.match(s)
        if m:
            d = _dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
            return date_serial(d), {"type": "DATE", "pattern": "M/d/yyyy"}
    except ValueError:
        return None
    return None


# --------------------------------------------------------------------------- formulas


class _FormulaError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)|(?P<str>\"(?:[^\"]|\"\")*\")"
    r"|(?P<ref>\$?[A-Za-z]{1,3}\$?\d+)|(?P<op>[-+*/^&()]))")


def evaluate(formula: str, sheet: Sheet, depth: int = 0) -> dict:
    """Evaluate ``=...`` to an ExtendedValue.

    Only arithmetic (``+ - * / ^``, ``&``, parentheses, numbers, strings, and references
    to single cells of the same sheet) is evaluated.  Anything else (functions such as
    ``IMPORTXML``, ranges, other sheets) gives the documented placeholder
    ``{"errorValue": {"type": "N_A", "message": "fake_sheets: formula not evaluated"}}``
    (formatted ``#N/A``); text that is not a formula at all (``=+91 98765 43210``) gives
    ``#ERROR!`` like Google's "Formula parse error".
    """
    body = formula[1:]
    pos = 0
    tokens: list[tuple[str, str]] = []
    while pos < len(body):
        m = _TOKEN_RE.match(body, pos)
        if not m or m.end() == pos:
            if body[pos:].strip() == "":
                break
            rest = body[pos:].lstrip()
            if re.match(r"[A-Za-z_][A-Za-z0-9_.]*\s*\(", rest) or ":" in rest or "!" in rest:
                return {"errorValue": {"type": "N_A",
                                       "message": "fake_sheets: formula not evaluated"}}
            return {"errorValue": {"type": "ERROR", "message": "Formula parse error."}}
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    try:
        parser = _Parser(tokens, sheet, depth)
        value = parser.expr()
        if parser.i != len(tokens):
            raise _FormulaError("ERROR", "Formula parse error.")
    except _FormulaError as e:
        return {"errorValue": {"type": e.kind, "message": e.message}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, (int, float)):
        return {"numberValue": json_number(value)}
    return {"stringValue": value}


class _Parser:
    """Recursive descent: expr := term (('+'|'-'|'&') term)*, term := power (('*'|'/') power)*."""

    def __init__(self, tokens: list, sheet: Sheet, depth: int):
        self.t, self.i, self.sheet, self.depth = tokens, 0, sheet, depth

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.t):
            raise _FormulaError("ERROR", "Formula parse error.")
        self.i += 1
        return self.t[self.i - 1]

    def expr(self) -> Any:
        v = self.term()
        while (tok := self.peek()) and tok[1] in ("+", "-", "&"):
            self.take()
            rhs = self.term()
            v = (_text(v) + _text(rhs)) if tok[1] == "&" else (
                _num(v) + _num(rhs) if tok[1] == "+" else _num(v) - _num(rhs))
        return v

    def term(self) -> Any:
        v = self.power()
        while (tok := self.peek()) and tok[1] in ("*", "/"):
            self.take()
            rhs = self.power()
            if tok[1] == "*":
                v = _num(v) * _num(rhs)
            else:
                if _num(rhs) == 0:
                    raise _FormulaError("DIVIDE_BY_ZERO", "Function DIVIDE parameter 2 cannot "
                                        "be zero.")
                v = _num(v) / _num(rhs)
        return v

    def power(self) -> Any:
        v = self.unary()
        while (tok := self.peek()) and tok[1] == "^":
            self.take()
            v = _num(v) ** _num(self.unary())
        return v

    def unary(self) -> Any:
        tok = self.peek()
        if tok and tok[1] in ("+", "-"):
            self.take()
            v = _num(self.unary())
            return -v if tok[1] == "-" else v
        return self.atom()

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1].replace('""', '"')
        if kind == "ref":
            m = re.match(r"\$?([A-Za-z]+)\$?(\d+)", text)
            cell = self.sheet.get(int(m.group(2)) - 1, col_index(m.group(1)))
            if cell is None or cell.value is None:
                return 0.0
            ev = effective_value(cell, self.sheet, self.depth + 1)
            if "errorValue" in ev:
                raise _FormulaError(ev["errorValue"]["type"], ev["errorValue"]["message"])
            return next(iter(ev.values()))
        if text == "(":
            v = self.expr()
            if self.take()[1] != ")":
                raise _FormulaError("ERROR", "Formula parse error.")
            return v
        raise _FormulaError("ERROR", "Formula parse error.")


def _num(v: Any) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v) if v != "" else 0.0
    except ValueError:
        raise _FormulaError("VALUE", f"Function ADD parameter 1 expects number values. But "
                            f"'{v}' is a text and cannot be coerced to a number.") from None


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return format_number(v, None)
    return str(v)


# --------------------------------------------------------------------------- rendering

ERROR_TEXT = {"ERROR": "#ERROR!", "N_A": "#N/A", "DIVIDE_BY_ZERO": "#DIV/0!", "VALUE": "#VALUE!",
              "REF": "#REF!", "NAME": "#NAME?", "NUM": "#NUM!", "NULL_VALUE": "#NULL!"}


def effective_value(cell: Cell, sheet: Sheet, depth: int = 0) -> dict:
    v = cell.value or {}
    if "formulaValue" in v:
        if depth > 50:
            return {"errorValue": {"type": "REF", "message": "Circular dependency detected."}}
        return evaluate(v["formulaValue"], sheet, depth)
    return dict(v)


def format_number(x: float | int, number_format: dict | None) -> str:
    if number_format and number_format.get("type") in ("DATE", "DATE_TIME"):
        d = EPOCH + _dt.timedelta(days=math.floor(x))
        secs = round((x - math.floor(x)) * 86400)
        pattern = number_format.get("pattern", "")
        if pattern.startswith("M/d"):
            out = f"{d.month}/{d.day}/{d.year}"
        else:
            out = d.isoformat()
        if number_format["type"] == "DATE_TIME":
            out += f" {secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
        return out
    if number_format and number_format.get("type") == "PERCENT":
        return format_number(x * 100, None) + "%"
    if number_format and "#,##0" in number_format.get("pattern", ""):
        return f"{x:,.10f}".rstrip("0").rstrip(".")
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = f"{x:.10g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}E{'+' if int(exp) >= 0 else '-'}{abs(int(exp)):02d}"
    return text


def formatted_value(ev: dict, cell: Cell) -> str:
    if "stringValue" in ev:
        return ev["stringValue"]
    if "boolValue" in ev:
        return "TRUE" if ev["boolValue"] else "FALSE"
    if "numberValue" in ev:
        return format_number(ev["numberValue"], (cell.fmt or {}).get("numberFormat"))
    if "errorValue" in ev:
        return ERROR_TEXT.get(ev["errorValue"]["type"], "#ERROR!")
    return ""


def render(cell: Cell | None, sheet: Sheet, option: str, datetime_option: str) -> Any:
    """One cell for ``values.get``: FORMATTED_VALUE / UNFORMATTED_VALUE / FORMULA."""
    if cell is None or cell.value is None:
        return ""
    if option == "FORMULA" and cell.formula is not None:
        return cell.formula
    ev = effective_value(cell, sheet)
    if option == "FORMATTED_VALUE":
        return formatted_value(ev, cell)
    if "numberValue" in ev:
        nf = (cell.fmt or {}).get("numberFormat") or {}
        if datetime_option == "FORMATTED_STRING" and nf.get("type") in ("DATE", "DATE_TIME",
                                                                          "TIME"):
            return formatted_value(ev, cell)
        return json_number(ev["numberValue"])
    if "boolValue" in ev:
        return ev["boolValue"]
    if "errorValue" in ev:
        return ERROR_TEXT.get(ev["errorValue"]["type"], "#ERROR!")
    return ev.get("stringValue", "")


def cell_data(cell: Cell, sheet: Sheet) -> dict:
    """CellData as ``spreadsheets.get`` with grid data returns it."""
    out: dict[str, Any] = {}
    if cell.value is not None:
        out["userEnteredValue"] = dict(cell.value)
        ev = effective_value(cell, sheet)
        out["effectiveValue"] = ev
        out["formattedValue"] = formatted_value(ev, cell)
    if cell.fmt:
        out["userEnteredFormat"] = copy.deepcopy(cell.fmt)
    if cell.note:
        out["note"] = cell.note
    if cell.validation:
        out["dataValidation"] = copy.deepcopy(cell.validation)
    return out


def text_width(text: str) -> int:
    """Rough Arial-10 width in pixels, for autoResizeDimensions (Google measures fonts)."""
    width = 0.0
    for ch in text:
        if ch in "il.,:;'|!":
            width += 2.8
        elif ch == " ":
            width += 3.4
        elif ch.isupper() or ord(ch) > 0x2000:
            width += 8.48
        else:
            width += 6.7
    return int(width + 7 + 0.5)


# --------------------------------------------------------------------------- field masks


def parse_fields(spec: str) -> dict:
    """Parse a ``fields`` mask into a tree ``{name: subtree}``; an empty subtree = everything.

    Handles commas, nested parentheses ``sheets(properties(sheetId,title))`` and
    dotted or slashed paths ``sheets.properties.title`` / ``sheets/data/rowData``.
    """
    pos = 0

    def parse_list(end: str | None) -> dict:
        nonlocal pos
        tree: dict = {}
        while pos < len(spec):
            ch = spec[pos]
            if ch == ",":
                pos += 1
                continue
            if end and ch == end:
                pos += 1
                return tree
            m = re.compile(r"[A-Za-z0-9_@*]+(?:[./][A-Za-z0-9_@*]+)*").match(spec, pos)
            if not m:
                raise bad_request(f"Invalid field selection {spec}")
            pos = m.end()
            path = re.split(r"[./]", m.group(0))
            node = tree
            for name in path[:-1]:
                node = node.setdefault(name, {})
            if pos < len(spec) and spec[pos] == "(":
                pos += 1
                node.setdefault(path[-1], {}).update(parse_list(")"))
            else:
                node[path[-1]] = {}
        if end:
            raise bad_request(f"Invalid field selection {spec}")
        return tree

    return parse_list(None)


def apply_fields(value: Any, tree: dict) -> Any:
    """Keep only the masked parts of ``value`` (a JSON-like structure)."""
    if not tree or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_fields(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(v, tree[k]) for k, v in value.items() if k in tree}
    return value


def mask_mentions(tree: dict, *path: str) -> bool:
    node = tree
    for name in path:
        if not node or "*" in node:
            return True
        if name not in node:
            return False
        node = node[name]
    return True
