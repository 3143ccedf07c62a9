"""Creating and repairing the tracker's tabs: headers, frozen rows, widths, dropdowns,
the overdue colour, and who may edit what (protected ranges)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from sheets_sync.backends.gsheets.cells import (
    SheetInfo,
    _col,
    _new_sheet_id,
    _quote,
    _update_cells,
    stable_sheet_id,
)
from sheets_sync.errors import TrackerError
from sheets_sync.layout import CELL_ONLY_FIELDS, RULE_MARK, tab_layout
from sheets_sync.roster import Department
from sheets_sync.schema import Tab, normalize_header
from sheets_sync.table import (
    AddRow,
    header_positions,
)
from sheets_sync.timeutil import IST

log = logging.getLogger(__name__)

JOB_COLUMNS = "sheets-sync: the job's columns (the cell may edit)"
DEPARTMENT_TAB = "sheets-sync: the department's tab (its officers and the cell may edit)"
CELL_TAB = "sheets-sync: the cell's tab (only the cell may edit)"
# The content pipeline's tabs (requests, the mail read, supervision): the cell's alone.
CELL_TABS = ("content", "mail_log", "supervision")
TRACKER_TIME_ZONE = IST.key  # the zone of every time the job writes
# Dates typed and shown day first (dd/MM/yyyy), as India writes them.
TRACKER_LOCALE = "en_IN"
# The locales Google reads and shows dates month first in, which the job sets to
# TRACKER_LOCALE: en_US is what a spreadsheet made by a service account gets (recorded
# traffic). Any other locale a person chose is left alone.
MONTH_FIRST_LOCALES = frozenset({"en_US"})


class StructureMixin:
    def ensure_structure(self, departments: Sequence[Department] = (), *,
                         only: Sequence[str] | None = None, furnish: Sequence[str] = (),
                         cell_editors: Sequence[str] = ()) -> list[str]:
        if not self.write:
            raise TrackerError("this session is read-only (dry run)")
        if self.pending_lock is not None:
            # The lock rides on the read that follows; these checks need what its reply
            # shows of the departments' tabs, so they are made right after it (see read).
            self.deferred_structure = {"departments": departments, "only": only, "furnish": furnish,
                                       "cell_editors": cell_editors}
            return []
        done: list[str] = []
        requests_: list[dict] = []
        chosen = self._tabs_to_set_up(only, furnish, departments, cell_editors)
        seed = bool(departments) and (only is None or "departments" in only)
        current = self._read_headers(chosen, seed)
        editors = [self.identity, *cell_editors]
        roster = {d.code: d for d in departments}
        used_ids = {s.sheet_id for s in self.sheets.values()}
        for tab in chosen:
            sheet = self._sheet(tab)
            if sheet is None:
                sheet = self._add_tab(tab, used_ids, requests_)
                done.append(f"created tab {tab.title!r}")
            header, added = self._add_headers(tab, sheet, furnish, requests_)
            if added and len(added) < len(tab.columns):
                done.append(f"tab {tab.title!r}: added column(s) {', '.join(added)} at the end")
            requests_ += self._furniture(tab, sheet, header, fresh=bool(added))
            requests_ += self._protections(tab, sheet, header, editors, roster)
        requests_ += self._rules_extended([s for t in chosen if (s := self._sheet(t)) is not None
                                           and (t.name in ("comments", "posts") or t.department)])
        if seed:
            done += self._seed_departments(departments, current.get("departments"), requests_)
        requests_ += self._settings_repair(done)
        if requests_:
            self._batch_update(requests_, "setting up the tracker's tabs")
        return done

    def _tabs_to_set_up(self, only, furnish, departments, cell_editors) -> list[Tab]:
        chosen = [t for t in self.tabs.values() if (self._sheet(t) is not None if t.name in furnish
                                                    else only is None or t.name in only)]
        if not self.listed and any(t.department and self._sheet(t) is None
                                   and stable_sheet_id(t.name) not in self.gone for t in chosen):
            # A department's tab this run has not seen (a new department, or a tab made by a
            # run that stopped before recording it) may exist: list every tab.
            self._refresh_all()
        # A department's tab whose header row this run has not seen yet is not read whole
        # here: the run's read brings its header row, and checks it then (see read).
        later = [t.name for t in chosen if t.department and self._sheet(t) and t.name not in self.headers]
        if later:
            self.unchecked += later
            self.unchecked_with = (list(departments), list(cell_editors))
            chosen = [t for t in chosen if t.name not in later]
        return chosen

    def _read_headers(self, chosen: Sequence[Tab], seed: bool) -> dict:
        """The header rows not known yet (and the Departments tab whole, to seed it)."""
        wanted = [tab for tab in chosen if self._sheet(tab) and tab.name not in self.headers]
        if seed and self._sheet(self.tab("departments")):
            wanted.append(self.tab("departments"))
        current = self._batch_read_whole(wanted) if wanted else {}
        for name, table in current.items():
            self.headers[name] = table.header
        return current

    def _add_tab(self, tab: Tab, used_ids: set[int], requests_: list[dict]) -> SheetInfo:
        sheet_id = stable_sheet_id(tab.name) if tab.department else None
        if sheet_id is None or sheet_id in used_ids:
            sheet_id = _new_sheet_id(used_ids)
        used_ids.add(sheet_id)
        layout = tab_layout(self.schema, tab)
        sheet = SheetInfo(sheet_id, tab.title, 1000, max(26, len(tab.columns)), tab.hidden,
                          layout.frozen_rows, frozen_columns=layout.frozen_columns)
        grid = {"rowCount": 1000, "columnCount": sheet.columns, "frozenRowCount": layout.frozen_rows}
        if layout.frozen_columns:
            grid["frozenColumnCount"] = layout.frozen_columns
        requests_.append({"addSheet": {"properties": {
            "sheetId": sheet_id, "title": tab.title, "hidden": tab.hidden, "gridProperties": grid}}})
        self.sheets[normalize_header(tab.title)] = sheet
        self.headers[tab.name] = []
        self.created.add(tab.name)
        return sheet

    def _add_headers(self, tab: Tab, sheet: SheetInfo, furnish,
                     requests_: list[dict]) -> tuple[list[str], list[str]]:
        """The columns a tab lacks, added after its last header (nothing moves)."""
        header = list(self.headers.get(tab.name, []))
        have = header_positions(header)
        added = [c.header for c in tab.columns if c.index_in(have) is None and tab.name not in furnish]
        if not added:
            return header, added
        start = max((i + 1 for i, h in enumerate(header) if h.strip()), default=0)
        if start + len(added) > sheet.columns:
            extra = start + len(added) - sheet.columns
            requests_.append({"appendDimension": {"sheetId": sheet.sheet_id,
                                                  "dimension": "COLUMNS", "length": extra}})
            sheet.columns += extra
        requests_.append(_update_cells(sheet.sheet_id, 0, start, [added]))
        header = header[:start] + [""] * (start - len(header)) + added
        self.headers[tab.name] = header
        return header, added

    def _seed_departments(self, departments: Sequence[Department], table,
                          requests_: list[dict]) -> list[str]:
        dept_tab = self.tab("departments")
        have_codes = set()
        if table is not None:
            have_codes = {r.get("code").strip().upper() for r in table.records(dept_tab)}
        new = [d for d in departments if d.code not in have_codes]
        if not new:
            return []
        sheet = self._sheet(dept_tab)
        rows = [AddRow("departments", d.as_row()) for d in new]
        requests_.append(self._append_cells(dept_tab, sheet, rows))
        self.prefetched.pop("departments", None)
        return [f"added {len(new)} department(s) to {dept_tab.title!r}"]

    def _settings_repair(self, done: list[str]) -> list[dict]:
        """The spreadsheet's settings put right, in one request: the time zone IST when it is
        another (the overdue colour compares IST due times with NOW(), which runs in that
        zone), and a month-first locale en_IN (Google reads a date a person types in the
        locale's order: in en_US, 05/12/2026 is 12 May). No request when neither needs it,
        or when this run did not read them."""
        properties = {}
        if self.time_zone not in (None, TRACKER_TIME_ZONE):
            done.append(f"set the spreadsheet's time zone to {TRACKER_TIME_ZONE} (it was "
                        f"{self.time_zone}), so overdue rows turn red at the right hour")
            properties["timeZone"] = self.time_zone = TRACKER_TIME_ZONE
        if self.locale in MONTH_FIRST_LOCALES:
            done.append(f"set the spreadsheet's locale to {TRACKER_LOCALE} (it was {self.locale}), so a "
                        "date typed 05/12/2026 means 5 December")
            properties["locale"] = self.locale = TRACKER_LOCALE
        if not properties:
            return []
        return [{"updateSpreadsheetProperties": {"properties": properties, "fields": ",".join(properties)}}]

    def _dates_as_shown(self, tables) -> None:
        """Say how the tables just read show dates: month first in the locale as it is now."""
        for table in tables:
            table.dates_month_first = self.locale in MONTH_FIRST_LOCALES

    def _rules_extended(self, sheets: Sequence[SheetInfo]) -> list[dict]:
        """The job's row-colour rules stored ending above the sheet's last row, open-ended again.

        Sent without an end row, like the protections (see ``_extended``); stored bounded,
        the rows appended since would never turn red. Every run reads where the rules
        end; only when one ends short are the rules of those tabs read whole (one
        request), to tell the job's (marked in their formula) from people's."""
        short = [s for s in sheets if any(_short(g, s) for rule in s.rules for g in rule.get("ranges", []))]
        if not short:
            return []
        meta = self._get({"ranges": [f"{_quote(s.title)}!1:1" for s in short],
                          "fields": "sheets(properties(sheetId),conditionalFormats)"})
        rules = {m["properties"]["sheetId"]: m.get("conditionalFormats", []) for m in meta.get("sheets", [])}
        out = []
        for sheet in short:
            for index, rule in enumerate(rules.get(sheet.sheet_id, [])):
                ranges = rule.get("ranges") or []
                if RULE_MARK not in json.dumps(rule.get("booleanRule", {})) or not any(
                        _short(g, sheet) for g in ranges):
                    continue
                out.append({"updateConditionalFormatRule": {
                    "index": index, "sheetId": sheet.sheet_id,
                    "rule": {**rule, "ranges": [_open(g) for g in ranges]}}})
            sheet.rules = []  # as good as open now
        return out

    def _protections(self, tab: Tab, sheet: SheetInfo, header: list[str], editors: list[str],
                     roster: Mapping[str, Department]) -> list[dict]:
        """Who may edit what, as Google enforces it; added only where missing.

        A department's tab: its head, nodal officers and the cell. The job's own
        columns (of the Comments and Posts tabs and of every department's tab):
        the cell alone. People's columns stay open to whoever may edit the tab.
        """
        have = {pr.get("description", "") for pr in sheet.protections}
        if tab.name in CELL_TABS:
            return self._cell_tab(sheet, have, editors)
        if tab.name not in ("comments", "posts") and not tab.department:
            return []
        out = [*_domain_closed(sheet.protections), *_extended(sheet)]
        positions = header_positions(header)
        # People's columns are open to whoever may edit the tab, but the cell's own
        # (layout.CELL_ONLY_FIELDS: Approve, Move to department) stay the cell's.
        people = sorted(i for c in tab.columns if c.owner == "people" and c.field not in CELL_ONLY_FIELDS
                        and (i := c.index_in(positions)) is not None)
        if JOB_COLUMNS not in have and people:
            out.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet.sheet_id}, "description": JOB_COLUMNS,
                "unprotectedRanges": [{"sheetId": sheet.sheet_id, "startRowIndex": 1,
                                       "startColumnIndex": i, "endColumnIndex": i + 1} for i in people],
                "editors": _editors(editors)}}})
            sheet.protections.append({"description": JOB_COLUMNS})
        code = tab.department
        if code and DEPARTMENT_TAB not in have and code in roster:
            dept = roster[code]
            users = [*editors, *([dept.head] if dept.head else []), *dept.nodal_officers]
            out.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0}, "description": DEPARTMENT_TAB,
                "editors": _editors(dict.fromkeys(users))}}})
            sheet.protections.append({"description": DEPARTMENT_TAB})
        return out

    @staticmethod
    def _cell_tab(sheet: SheetInfo, have: set, editors: list[str]) -> list[dict]:
        """The content pipeline's tabs: every officer may see them, only the cell may
        change them (a department must not approve its own request in the sheet)."""
        if CELL_TAB in have:
            return [*_domain_closed(sheet.protections), *_extended(sheet)]
        sheet.protections.append({"description": CELL_TAB})
        return [*_domain_closed(sheet.protections), *_extended(sheet), {"addProtectedRange": {
            "protectedRange": {"range": {"sheetId": sheet.sheet_id}, "description": CELL_TAB,
                               "editors": _editors(editors)}}}]

    def _furniture(self, tab: Tab, sheet: SheetInfo, header: list[str], *, fresh: bool) -> list[dict]:
        """Render the tab's layout (layout.py): frozen rows and columns, hidden, and, where
        columns were just added, widths, wrap, bold header, dropdowns, row colours."""
        layout = tab_layout(self.schema, tab)
        out = []
        if (sheet.frozen_rows, sheet.frozen_columns, sheet.hidden) != \
                (layout.frozen_rows, layout.frozen_columns, layout.hidden):
            out.append({"updateSheetProperties": {
                "properties": {"sheetId": sheet.sheet_id, "hidden": layout.hidden,
                               "gridProperties": {"frozenRowCount": layout.frozen_rows,
                                                  "frozenColumnCount": layout.frozen_columns}},
                "fields": "hidden,gridProperties.frozenRowCount,gridProperties.frozenColumnCount"}})
            sheet.frozen_rows, sheet.frozen_columns = layout.frozen_rows, layout.frozen_columns
            sheet.hidden = layout.hidden
        if not fresh:
            return out
        positions = header_positions(header)
        out.append({"repeatCell": {
            "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0, "endRowIndex": 1},
            "cell": {"userEnteredFormat": {"textFormat": {"bold": True}, "wrapStrategy": "WRAP"}},
            "fields": "userEnteredFormat(textFormat.bold,wrapStrategy)"}})
        for column in layout.columns:
            index = tab.column(column.field).index_in(positions)
            if index is not None:
                out += _column_requests(sheet.sheet_id, column, index)
        letters = {k: _col(v) for k, v in positions.items()}
        # Inserted at index 0 in turn: the first rule (red) ends up first, and wins.
        for rule in reversed(layout.row_rules(tab, letters, self.schema)):
            out.append({"addConditionalFormatRule": {"index": 0, "rule": {
                "ranges": [{"sheetId": sheet.sheet_id, "startRowIndex": 1}],
                "booleanRule": {"condition": {"type": "CUSTOM_FORMULA",
                                              "values": [{"userEnteredValue": "=" + rule.formula}]},
                                "format": {"backgroundColor": _rgb(rule.colour)}}}}})
        return out


def _domain_closed(protections) -> list[dict]:
    """The job's protections a person opened to their whole Workspace domain, closed again."""
    out = []
    for pr in protections:
        editors = pr.get("editors") or {}
        if pr.get("description") in (JOB_COLUMNS, DEPARTMENT_TAB, CELL_TAB) and \
                editors.get("domainUsersCanEdit"):
            out.append({"updateProtectedRange": {
                "protectedRange": {"protectedRangeId": pr["protectedRangeId"],
                                   "editors": _editors(editors.get("users") or [])},
                "fields": "editors"}})
            editors["domainUsersCanEdit"] = False
    return out


def _extended(sheet: SheetInfo) -> list[dict]:
    """The job's protections stored ending above the sheet's last row, open-ended again.

    They are sent without an end row; Google may store such a range bounded to the grid
    as it was then, and the rows appended since would be open to anyone (the job's
    columns) or shut to the department (its tab)."""
    out = []
    for pr in sheet.protections:
        ranges = [pr.get("range") or {}, *(pr.get("unprotectedRanges") or [])]
        if pr.get("description") not in (JOB_COLUMNS, DEPARTMENT_TAB, CELL_TAB) or not any(
                r.get("endRowIndex") is not None and r["endRowIndex"] < sheet.rows for r in ranges):
            continue
        update: dict = {"protectedRangeId": pr["protectedRangeId"], "range": _open(pr["range"])}
        fields = "range"
        if pr.get("unprotectedRanges"):  # (a mask naming them with none given would clear them)
            update["unprotectedRanges"] = [_open(r) for r in pr["unprotectedRanges"]]
            fields += ",unprotectedRanges"
        out.append({"updateProtectedRange": {"protectedRange": update, "fields": fields}})
    return out


def _short(grid_range: dict, sheet: SheetInfo) -> bool:
    """A range of a row-colour rule (from row 2 on) that ends before the sheet does."""
    end = grid_range.get("endRowIndex")
    return grid_range.get("startRowIndex", 0) == 1 and end is not None and end < sheet.rows


def _open(grid_range: dict) -> dict:
    return {k: v for k, v in grid_range.items() if k != "endRowIndex"}


def _editors(users) -> dict:
    # In a Workspace domain a protection lets every domain user through unless this is false.
    return {"users": list(users), "domainUsersCanEdit": False}


def _rgb(colour: str) -> dict:
    parts = (("red", 0), ("green", 2), ("blue", 4))
    return {name: round(int(colour[i:i + 2], 16) / 255, 2) for name, i in parts}


def _column_requests(sheet_id: int, column, index: int) -> list[dict]:
    """One column's width, wrap, dropdown and hidden state."""
    span = {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": index, "endIndex": index + 1}
    out: list[dict] = [{"updateDimensionProperties": {
        "range": span, "properties": {"pixelSize": column.width}, "fields": "pixelSize"}}]
    cells = {"sheetId": sheet_id, "startRowIndex": 1, "startColumnIndex": index, "endColumnIndex": index + 1}
    if column.wrap:
        # Google makes a row as tall as its wrapped text: a paragraph reads whole.
        out.append({"repeatCell": {"range": cells, "cell": {"userEnteredFormat": {
            "wrapStrategy": "WRAP", "verticalAlignment": "TOP"}},
            "fields": "userEnteredFormat(wrapStrategy,verticalAlignment)"}})
    if column.checkbox:
        tick = {"condition": {"type": "BOOLEAN"}, "strict": True}
        if column.help:
            tick["inputMessage"] = column.help
        out.append({"setDataValidation": {"range": cells, "rule": tick}})
    elif column.choices:
        values = [{"userEnteredValue": v} for v in column.choices]
        rule = {"condition": {"type": "ONE_OF_LIST", "values": values}, "strict": True, "showCustomUi": True}
        if column.help:
            rule["inputMessage"] = column.help
        out.append({"setDataValidation": {"range": cells, "rule": rule}})
    if column.hidden:
        out.append({"updateDimensionProperties": {"range": span, "properties": {"hiddenByUser": True},
                                                  "fields": "hiddenByUser"}})
    return out
