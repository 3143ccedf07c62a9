"""Pure builders of Sheets API requests and readers of its replies: A1 ranges, cells, rows, payload parts."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sheets_sync.layout import LINK_FIELDS, is_link
from sheets_sync.schema import Tab
from sheets_sync.table import Table, as_text, is_number


@dataclass
class SheetInfo:
    sheet_id: int
    title: str
    rows: int
    columns: int
    hidden: bool = False
    frozen_rows: int = 0
    protections: list[dict] = field(default_factory=list)
    frozen_columns: int = 0
    # Its conditional format rules (the row colours), as the last metadata read gave them.
    rules: list[dict] = field(default_factory=list)


def stable_sheet_id(name: str) -> int:
    """A department tab's sheet id, the same on every run: found without listing every tab."""
    import hashlib

    return int(hashlib.sha1(f"sheets-sync {name}".encode()).hexdigest()[:8], 16) % 2_000_000_000 + 1



def _quote(title: str) -> str:
    """A sheet title as A1 notation wants it: quoted, with quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def _col(index: int) -> str:
    """0-based column index → letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _grid_rows(data: list[dict]) -> list[list[str]]:
    rows: list[list[str]] = []
    for block in data:
        for row in block.get("rowData", []):
            rows.append([str(v.get("formattedValue", "")) for v in row.get("values", [])])
    return rows


def _grid_values(block: dict) -> list[list[str]]:
    """One GridData block of a reply, as ``values:batchGet`` (FORMATTED_VALUE) gives the same
    range: each cell's formatted value as text, trailing empty cells and rows left out."""
    rows: list[list[str]] = []
    for row in block.get("rowData", []):
        cells = [str(v.get("formattedValue", "")) for v in row.get("values", [])]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


_A1_START = re.compile(r"^([A-Z]*)(\d*)")


def _a1_start(a1: str) -> tuple[int, int]:
    """Where a range the job reads starts (0-based row, column): ``'T'!B2:D`` → (1, 1),
    ``'T'!1:1`` → (0, 0), ``'T'`` → (0, 0)."""
    # A quoted title alone, or a named range's name: from the tab's first cell.
    cells = a1.rsplit("!", 1)[1] if "!" in a1 and not a1.endswith("'") else ""
    letters, digits = _A1_START.match(cells).groups()
    column = 0
    for ch in letters:
        column = column * 26 + ord(ch) - 64
    return (int(digits) - 1 if digits else 0), (column - 1 if letters else 0)


def _value_ranges(spreadsheet: dict, ranges: Sequence[tuple[str | int, str]]) -> list[dict]:
    """A reply's grid data (``responseRanges`` of a batchUpdate) as the ``valueRanges`` of a
    ``values:batchGet`` of the same ranges, given as (sheet title or id, A1 range). Each
    sheet's blocks are matched to its ranges by where they start, in order."""
    blocks: dict[str | int, list[dict]] = {}
    for sheet in spreadsheet.get("sheets", []):
        props = sheet.get("properties", {})
        data = list(sheet.get("data", []))
        blocks[props.get("title", "").casefold()] = blocks[props.get("sheetId", 0)] = data
    out = []
    for key, a1 in ranges:
        queue = blocks.get(key.casefold() if isinstance(key, str) else key, [])
        start = _a1_start(a1)
        block = next((b for b in queue if (b.get("startRow", 0), b.get("startColumn", 0)) == start), None)
        if block is None:
            raise ValueError(f"no grid data for {a1} in the reply")
        queue.remove(block)
        values = _grid_values(block)
        out.append({"range": a1, "values": values} if values else {"range": a1})
    return out


def _table(title: str, values: list[list], *, first_row: int) -> Table:
    header = [str(v) for v in values[0]] if values else []
    table = Table(title, header)
    for offset, row in enumerate(values[1:], start=1):
        cells = [str(v) for v in row]
        if any(c.strip() for c in cells):
            table.rows.append(cells)
            table.row_numbers.append(first_row + offset)
    return table


def _cell_value(value) -> dict:
    # Text, so a citizen's "=…" is never parsed as a formula; only the job's own
    # figures are numbers (see table.CellValue).
    if is_number(value):
        return {"numberValue": value}
    return {"stringValue": str(value)}


def _entered_text(cell: dict) -> str:
    """What a cell of a write holds, as text (as a read would give it back)."""
    entered = cell.get("userEnteredValue", {})
    if "numberValue" in entered:
        return as_text(entered["numberValue"])
    return entered.get("stringValue", "")


# What every cell write sets: the value, and the link a link column's cell carries
# (cleared on every other cell written).
CELL_FIELDS = "userEnteredValue,userEnteredFormat.textFormat.link"


def _cell(value, *, link: bool = False) -> dict:
    """One cell to write; an empty value clears it. In a link column a web address is
    made clickable by a link on the cell (its format), never by a formula."""
    if value == "":
        return {}
    cell: dict = {"userEnteredValue": _cell_value(value)}
    if link and is_link(str(value)):
        cell["userEnteredFormat"] = {"textFormat": {"link": {"uri": str(value).strip()}}}
    return cell


def _row_data(values: Mapping, positions: Mapping[str, int], width: int) -> dict:
    cells: list[dict] = [{} for _ in range(width)]
    for name, value in values.items():
        if name in positions:
            cells[positions[name]] = _cell(value, link=name in LINK_FIELDS)
    return {"values": cells}


def _trimmed(header: Sequence[str]) -> list[str]:
    out = [h.strip() for h in header]
    while out and not out[-1]:
        out.pop()
    return out


def _written_cells(requests_: Sequence[dict],
                   sheet_id: int) -> tuple[dict[tuple[int, int], dict], list[dict]]:
    """What a write put on one sheet: cells by (row, column) on existing rows, and appended rows."""
    written: dict[tuple[int, int], dict] = {}
    appended: list[dict] = []
    for request in requests_:
        (kind, body), = request.items()
        if kind == "appendCells" and body.get("sheetId") == sheet_id:
            appended += body.get("rows", [])
        elif kind == "updateCells" and body.get("start", {}).get("sheetId") == sheet_id:
            start = body["start"]
            for n, row in enumerate(body.get("rows", [])):
                for m, cell in enumerate(row.get("values", [])):
                    written[(start.get("rowIndex", 0) + n, start.get("columnIndex", 0) + m)] = cell
    return written, appended


def _key_index(columns: list[list[str]]) -> tuple[dict[tuple, int], dict[int, tuple]]:
    """Key columns read from row 2 down → (key → 0-based row index, row index → key)."""
    length = max((len(c) for c in columns), default=0)
    by_key: dict[tuple, int] = {}
    by_row: dict[int, tuple] = {}
    for i in range(length):
        key = tuple(c[i].strip() if i < len(c) else "" for c in columns)
        if all(key):
            by_key.setdefault(key, i + 1)
            by_row[i + 1] = key
    return by_key, by_row


def _runs(indexes: Sequence[int], gap: int = 0) -> list[tuple[int, int]]:
    """Sorted indexes as [start, end) runs of consecutive numbers (bridging up to ``gap``)."""
    out: list[tuple[int, int]] = []
    for i in sorted(indexes):
        if out and out[-1][1] + gap >= i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def _cell_requests(cells: Mapping[tuple[int, int, int], dict]) -> list[dict]:
    """Single cells to write, as few updateCells as possible: one per run of
    consecutive rows in a column (a column of overdue flags is one request)."""
    by_column: dict[tuple[int, int], list[int]] = {}
    for sheet_id, row, column in cells:
        by_column.setdefault((sheet_id, column), []).append(row)
    out = []
    for (sheet_id, column), rows in by_column.items():
        for start, end in _runs(rows):
            out.append({"updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": start, "columnIndex": column},
                "rows": [{"values": [cells[(sheet_id, r, column)]]} for r in range(start, end)],
                "fields": CELL_FIELDS}})
    return out


def _update_cells(sheet_id: int, row: int, column: int, values: list[list]) -> dict:
    rows = [{"values": [{"userEnteredValue": _cell_value(c)} for c in r]} for r in values]
    return {"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": row, "columnIndex": column},
                            "rows": rows, "fields": CELL_FIELDS}}


def _serialize(request) -> bytes:
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# A request of rows is cut to fill what is left of a part only when that is worth a
# request of its own; with a tiny limit (tests that make every request a part) it is not.
MIN_PIECE = 1024


def _chunks(requests_: Iterable[dict], limit: int) -> list[list[bytes]]:
    """Requests as JSON, in groups of at most ``limit`` bytes (one group per write).

    An appendCells or updateCells bigger than the room left in a group is cut
    between its rows (in order: an append stays an append, an update's next piece
    starts on the next row), so every group but the last is nearly full and no
    request passes the limit unless one row alone does.
    """
    packer = _Packer(limit)
    for request in requests_:
        kind = next(iter(request))
        if kind in ("appendCells", "updateCells") and len(request[kind].get("rows", ())) > 1:
            packer.add_rows(kind, request[kind])
        else:
            packer.add(_serialize(request))
    return packer.chunks


class _Packer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[list[bytes]] = [[]]
        self.size = 0

    def add(self, data: bytes) -> None:
        if self.chunks[-1] and self.size + len(data) > self.limit:
            self._next_part()
        self.chunks[-1].append(data)
        self.size += len(data) + 1

    def room(self) -> int:
        return self.limit - self.size if self.chunks[-1] else self.limit

    def add_rows(self, kind: str, body: dict) -> None:
        rows = [_serialize(row) for row in body["rows"]]
        first = 0
        while first < len(rows):
            cutting = self.limit >= MIN_PIECE
            if cutting and self.room() < MIN_PIECE:
                self._next_part()
            shell = _shell(kind, body, first)
            end, size = first + 1, len(shell) + len(rows[first]) + 1
            while end < len(rows) and (not cutting or size + len(rows[end]) + 1 <= self.room()):
                size += len(rows[end]) + 1
                end += 1
            if cutting and size > self.room() and self.chunks[-1]:
                self._next_part()  # one row bigger than what is left: it starts a part
                continue
            self.add(shell.replace(b'"rows":[]', b'"rows":[' + b",".join(rows[first:end]) + b"]", 1))
            first = end

    def _next_part(self) -> None:
        self.chunks.append([])
        self.size = 0


def _shell(kind: str, body: dict, first: int) -> bytes:
    """The request without its rows, for the piece starting at row ``first``."""
    shell = {**body, "rows": []}
    if first and kind == "updateCells":
        start = dict(body["start"])
        start["rowIndex"] = start.get("rowIndex", 0) + first
        shell["start"] = start
    return _serialize({kind: shell})


def _new_sheet_id(used: set[int]) -> int:
    while True:
        candidate = secrets.randbelow(2**31 - 1) + 1
        if candidate not in used:
            used.add(candidate)
            return candidate


def _rows_by_key(tab: Tab, table: Table) -> dict[tuple, int]:
    """Each key's first row (0-based) in the table as read."""
    positions = table.positions()
    idx = [tab.index_of(k, positions) for k in tab.key]
    if None in idx:
        return {}
    out: dict[tuple, int] = {}
    for number, row in zip(table.row_numbers, table.rows, strict=True):
        key = tuple(row[i].strip() if i < len(row) else "" for i in idx)
        if all(key):
            out.setdefault(key, number - 1)
    return out
