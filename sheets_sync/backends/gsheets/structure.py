"""Creating and repairing the tracker's tabs: headers, frozen rows, widths, dropdowns,
the overdue colour, and who may edit what (protected ranges)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sheets_sync.backends.gsheets.cells import (
    SheetInfo,
    _col,
    _new_sheet_id,
    _update_cells,
    stable_sheet_id,
)
from sheets_sync.errors import TrackerError
from sheets_sync.roster import Department
from sheets_sync.schema import Tab, normalize_header
from sheets_sync.table import (
    AddRow,
    header_positions,
    overdue_rule,
)
from sheets_sync.timeutil import IST

log = logging.getLogger(__name__)

JOB_COLUMNS = "sheets-sync: the job's columns (the cell may edit)"
DEPARTMENT_TAB = "sheets-sync: the department's tab (its officers and the cell may edit)"
TRACKER_TIME_ZONE = IST.key  # the zone of every time the job writes


class StructureMixin:
    def ensure_structure(self, departments: Sequence[Department] = (), *,
                         only: Sequence[str] | None = None, furnish: Sequence[str] = (),
                         cell_editors: Sequence[str] = ()) -> list[str]:
        if not self.write:
            raise TrackerError("this session is read-only (dry run)")
        done: list[str] = []
        requests_: list[dict] = []
        chosen = [t for t in self.tabs.values() if (self._sheet(t) is not None if t.name in furnish
                                                    else only is None or t.name in only)]
        if any(t.department for t in chosen) and not self.locks:
            self._refresh_all()  # department tabs are not in the first read
        # A department's tab whose header row this run has not seen yet is not read whole
        # here: the run's read brings its header row, and checks it then (see read).
        later = [t.name for t in chosen if t.department and self._sheet(t) and t.name not in self.headers]
        if later:
            self.unchecked += later
            self.unchecked_with = (list(departments), list(cell_editors))
            chosen = [t for t in chosen if t.name not in later]
        existing = [tab for tab in chosen if self._sheet(tab)]
        wanted = [tab for tab in existing if tab.name not in self.headers]
        seed = departments and (only is None or "departments" in only)
        if seed and self._sheet(self.tab("departments")):
            wanted.append(self.tab("departments"))
        current = self._batch_read_whole(wanted) if wanted else {}
        for name, table in current.items():
            self.headers[name] = table.header
        used_ids = {s.sheet_id for s in self.sheets.values()}
        editors = [self.identity, *cell_editors]
        roster = {d.code: d for d in departments}
        for tab in chosen:
            sheet = self._sheet(tab)
            if sheet is None:
                sheet_id = stable_sheet_id(tab.name) if tab.department else None
                if sheet_id is None or sheet_id in used_ids:
                    sheet_id = _new_sheet_id(used_ids)
                used_ids.add(sheet_id)
                sheet = SheetInfo(sheet_id, tab.title, 1000, max(26, len(tab.columns)), tab.hidden, 1)
                requests_.append({"addSheet": {"properties": {
                    "sheetId": sheet_id, "title": tab.title, "hidden": tab.hidden,
                    "gridProperties": {"rowCount": 1000, "columnCount": sheet.columns,
                                       "frozenRowCount": 1}}}})
                self.sheets[normalize_header(tab.title)] = sheet
                self.headers[tab.name] = []
                done.append(f"created tab {tab.title!r}")
            header = list(self.headers.get(tab.name, []))
            have = {normalize_header(h) for h in header if h}
            added = [c.header for c in tab.columns if normalize_header(c.header) not in have
                     and tab.name not in furnish]
            if added:
                start = max((i + 1 for i, h in enumerate(header) if h.strip()), default=0)
                if start + len(added) > sheet.columns:
                    extra = start + len(added) - sheet.columns
                    requests_.append({"appendDimension": {"sheetId": sheet.sheet_id,
                                                          "dimension": "COLUMNS", "length": extra}})
                    sheet.columns += extra
                requests_.append(_update_cells(sheet.sheet_id, 0, start, [added]))
                header = header[:start] + [""] * (start - len(header)) + added
                self.headers[tab.name] = header
                if len(added) < len(tab.columns):
                    done.append(f"tab {tab.title!r}: added column(s) {', '.join(added)} at the end")
            requests_ += self._furniture(tab, sheet, header, fresh=bool(added))
            requests_ += self._protections(tab, sheet, header, editors, roster)
        if seed:
            dept_tab = self.tab("departments")
            table = current.get("departments")
            have_codes = set()
            if table is not None:
                have_codes = {r.get("code").strip().upper() for r in table.records(dept_tab)}
            new = [d for d in departments if d.code not in have_codes]
            if new:
                sheet = self._sheet(dept_tab)
                requests_.append(self._append_cells(dept_tab, sheet, [AddRow("departments", d.as_row())
                                                                      for d in new]))
                self.prefetched.pop("departments", None)
                done.append(f"added {len(new)} department(s) to {dept_tab.title!r}")
        requests_ += self._time_zone_repair(done)
        if requests_:
            self._batch_update(requests_, "setting up the tracker's tabs")
        return done

    def _time_zone_repair(self, done: list[str]) -> list[dict]:
        """The spreadsheet's time zone set to IST when it is another: the overdue colour
        compares IST due times with NOW(), which runs in that zone. No request when it is
        IST already, or when this run did not read it."""
        if self.time_zone in (None, TRACKER_TIME_ZONE):
            return []
        done.append(f"set the spreadsheet's time zone to {TRACKER_TIME_ZONE} (it was "
                    f"{self.time_zone}), so overdue rows turn red at the right hour")
        self.time_zone = TRACKER_TIME_ZONE
        return [{"updateSpreadsheetProperties": {"properties": {"timeZone": TRACKER_TIME_ZONE},
                                                 "fields": "timeZone"}}]

    def _protections(self, tab: Tab, sheet: SheetInfo, header: list[str], editors: list[str],
                     roster: Mapping[str, Department]) -> list[dict]:
        """Who may edit what, as Google enforces it; added only where missing.

        A department's tab: its head, nodal officers and the cell. The job's own
        columns (of the Comments and Posts tabs and of every department's tab):
        the cell alone. People's columns stay open to whoever may edit the tab.
        """
        if tab.name not in ("comments", "posts") and not tab.department:
            return []
        have = {pr.get("description", "") for pr in sheet.protections}
        out = []
        positions = header_positions(header)
        people = sorted(positions[normalize_header(c.header)] for c in tab.columns
                        if c.owner == "people" and normalize_header(c.header) in positions)
        if JOB_COLUMNS not in have and people:
            out.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet.sheet_id}, "description": JOB_COLUMNS,
                "unprotectedRanges": [{"sheetId": sheet.sheet_id, "startRowIndex": 1,
                                       "startColumnIndex": i, "endColumnIndex": i + 1} for i in people],
                "editors": {"users": list(editors)}}}})
            sheet.protections.append({"description": JOB_COLUMNS})
        code = tab.department
        if code and DEPARTMENT_TAB not in have and code in roster:
            dept = roster[code]
            users = [*editors, *([dept.head] if dept.head else []), *dept.nodal_officers]
            out.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0}, "description": DEPARTMENT_TAB,
                "editors": {"users": list(dict.fromkeys(users))}}}})
            sheet.protections.append({"description": DEPARTMENT_TAB})
        return out

    def _furniture(self, tab: Tab, sheet: SheetInfo, header: list[str], *, fresh: bool) -> list[dict]:
        """Frozen header, widths, bold header, dropdowns; only where missing or just added."""
        out = []
        if sheet.frozen_rows != 1 or sheet.hidden != tab.hidden:
            out.append({"updateSheetProperties": {
                "properties": {"sheetId": sheet.sheet_id, "hidden": tab.hidden,
                               "gridProperties": {"frozenRowCount": 1}},
                "fields": "hidden,gridProperties.frozenRowCount"}})
            sheet.frozen_rows, sheet.hidden = 1, tab.hidden
        if not fresh:
            return out
        positions = header_positions(header)
        out.append({"repeatCell": {
            "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0, "endRowIndex": 1},
            "cell": {"userEnteredFormat": {"textFormat": {"bold": True}, "wrapStrategy": "WRAP"}},
            "fields": "userEnteredFormat(textFormat.bold,wrapStrategy)"}})
        for column in tab.columns:
            index = positions.get(normalize_header(column.header))
            if index is None:
                continue
            out.append({"updateDimensionProperties": {
                "range": {"sheetId": sheet.sheet_id, "dimension": "COLUMNS",
                          "startIndex": index, "endIndex": index + 1},
                "properties": {"pixelSize": column.width}, "fields": "pixelSize"}})
        for field_name, values in (("status", self.schema.status_names),
                                   ("category", self.schema.category_names)):
            try:
                index = positions.get(normalize_header(tab.header_of(field_name)))
            except KeyError:
                continue
            if index is None or tab.name == "report":
                continue
            out.append({"setDataValidation": {
                "range": {"sheetId": sheet.sheet_id, "startRowIndex": 1,
                          "startColumnIndex": index, "endColumnIndex": index + 1},
                "rule": {"condition": {"type": "ONE_OF_LIST",
                                       "values": [{"userEnteredValue": v} for v in values]},
                         "strict": True, "showCustomUi": True}}})
        for column in tab.columns:
            index = positions.get(normalize_header(column.header))
            if column.hidden and index is not None:
                out.append({"updateDimensionProperties": {
                    "range": {"sheetId": sheet.sheet_id, "dimension": "COLUMNS",
                              "startIndex": index, "endIndex": index + 1},
                    "properties": {"hiddenByUser": True}, "fields": "hiddenByUser"}})
        rule = overdue_rule(tab, {k: _col(v) for k, v in positions.items()}, self.schema)
        if rule:
            out.append({"addConditionalFormatRule": {"index": 0, "rule": {
                "ranges": [{"sheetId": sheet.sheet_id, "startRowIndex": 1}],
                "booleanRule": {"condition": {"type": "CUSTOM_FORMULA",
                                              "values": [{"userEnteredValue": "=" + rule}]},
                                "format": {"backgroundColor": {"red": 0.96, "green": 0.78,
                                                               "blue": 0.76}}}}}})
        return out

