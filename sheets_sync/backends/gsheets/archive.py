"""The archive of a Google tracker: a spreadsheet per year, "<tracker title> archive 2026",
made through Drive by the job's service account and shared like the tracker (the
tracker's permissions copied; its owner becomes an editor, since Drive moves
ownership only with the new owner's consent).

Found again by the id the tracker's Sync State remembers, else by its name (a run
killed between making it and recording its id finds it, rather than making a
second one). Rows are written as text (numbers for the Sync Log's figures), never
parsed as formulas; cell formats are not copied (Sheets copies formats only
within one spreadsheet).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gspread.exceptions import APIError
from gspread.urls import DRIVE_FILES_API_V3_URL, SPREADSHEET_BATCH_UPDATE_URL

from sheets_sync.archive_store import ArchiveStore, ArchiveStores, merged_header, placed, row_key
from sheets_sync.backends.gsheets.cells import _cell, _chunks, _col, _quote
from sheets_sync.backends.gsheets.client import RetryingHTTPClient, UncertainWrite, explain, load_credentials
from sheets_sync.backends.gsheets.sharing import share_like_tracker
from sheets_sync.backends.gsheets.write import MAX_PAYLOAD
from sheets_sync.endpoint import session_for
from sheets_sync.errors import TrackerError
from sheets_sync.schema import Tab, normalize_header
from sheets_sync.table import header_positions

log = logging.getLogger(__name__)
SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
FIELDS = "userEnteredValue"


class GoogleArchives(ArchiveStores):
    def __init__(self, backend) -> None:
        self.backend = backend
        creds = load_credentials(backend.credentials_path)
        self.identity = creds.service_account_email
        self.client = RetryingHTTPClient(creds, session_for(credentials=creds), sleep=backend.sleep)
        self._title: str | None = None

    def _call(self, what: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except APIError as exc:
            raise explain(exc, what, spreadsheet_id=self.backend.spreadsheet_id, identity=self.identity,
                          protections=[]) from None

    @property
    def title(self) -> str:
        if self._title is None:
            meta = self._call("reading the tracker's title", self.client.spreadsheets_get,
                              self.backend.spreadsheet_id, {"fields": "properties.title"})
            self._title = meta["properties"]["title"]
        return self._title

    def name(self, year: int) -> str:
        return f"{self.title} archive {year}"

    def open(self, year: int, ref: str = "", *, create: bool = False) -> GoogleArchive | None:
        sid = ref if ref and self._exists(ref) else self._find(self.name(year))
        if sid is None:
            if not create:
                return None
            sid = self._create(self.name(year))
        return GoogleArchive(self, year, sid)

    def _exists(self, sid: str) -> bool:
        try:
            self.client.spreadsheets_get(sid, {"fields": "spreadsheetId"})
            return True
        except APIError as exc:
            if exc.response.status_code in (403, 404):
                return False
            raise explain(exc, "opening the archive", spreadsheet_id=sid, identity=self.identity,
                          protections=[]) from None

    def _find(self, name: str) -> str | None:
        quoted = name.replace("\\", "\\\\").replace("'", "\\'")
        params = {"q": f"name = '{quoted}' and mimeType = '{SPREADSHEET_MIME}' and trashed = false",
                  "fields": "files(id,name)", "supportsAllDrives": "true",
                  "includeItemsFromAllDrives": "true"}
        reply = self._call("looking for the archive in Drive", self.client.request, "get",
                           DRIVE_FILES_API_V3_URL, params=params).json()
        found = [f["id"] for f in reply.get("files", []) if f.get("name") == name]
        return found[0] if found else None

    def _create(self, name: str) -> str:
        try:
            reply = self._call("making the archive in Drive", self.client.request, "post",
                               DRIVE_FILES_API_V3_URL, params={"supportsAllDrives": "true"},
                               json={"name": name, "mimeType": SPREADSHEET_MIME}).json()
            sid = reply["id"]
        except UncertainWrite:
            # Drive may have made it: look for it by name before making another.
            sid = self._find(name)
            if sid is None:
                raise TrackerError(f"Drive did not answer while making {name!r}; run again") from None
        self._share_like_tracker(sid)
        log.info("made the archive %r (%s), shared like the tracker", name, sid)
        return sid

    def _share_like_tracker(self, sid: str) -> None:
        share_like_tracker(self._call, self.client, self.backend.spreadsheet_id, sid, self.identity)


class GoogleArchive(ArchiveStore):
    def __init__(self, archives: GoogleArchives, year: int, sid: str) -> None:
        self.archives = archives
        self.client = archives.client
        self.year = year
        self.id = sid
        self.ref = sid
        self.location = f"{archives.name(year)} (https://docs.google.com/spreadsheets/d/{sid})"

    def _call(self, what: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except APIError as exc:
            raise explain(exc, what, spreadsheet_id=self.id, identity=self.archives.identity,
                          protections=[]) from None

    def _sheets(self) -> dict[str, dict]:
        meta = self._call("reading the archive", self.client.spreadsheets_get, self.id,
                          {"fields": "sheets.properties"})
        return {normalize_header(s["properties"]["title"]): s["properties"] for s in meta.get("sheets", [])}

    def rows(self, tab: Tab) -> tuple[list[str], list[list[str]]]:
        if normalize_header(tab.title) not in self._sheets():
            return [], []
        reply = self._call("reading the archive", self.client.values_batch_get, self.id, [_quote(tab.title)],
                           {"valueRenderOption": "FORMATTED_VALUE"})
        values = [[str(v) for v in r] for r in (reply.get("valueRanges") or [{}])[0].get("values", [])]
        if not values:
            return [], []
        return values[0], [r for r in values[1:] if any(v.strip() for v in r)]

    def find(self, tab: Tab, fields: Sequence[str]) -> dict[tuple, dict[str, str]]:
        """The key columns and these only (the sync's look-up): the header row, then them."""
        if not tab.key or normalize_header(tab.title) not in self._sheets():
            return super().find(tab, fields) if tab.key else {}
        reply = self._call("reading the archive", self.client.values_batch_get, self.id,
                           [f"{_quote(tab.title)}!1:1"], {"valueRenderOption": "FORMATTED_VALUE"})
        header = [str(v) for v in ((reply.get("valueRanges") or [{}])[0].get("values") or [[]])[0]]
        positions = header_positions(header)
        wanted = [*tab.key, *fields]
        columns = [tab.index_of(f, positions) for f in wanted]
        if any(c is None for c in columns[:len(tab.key)]):
            return {}
        present = sorted({c for c in columns if c is not None})
        reply = self._call("reading the archive", self.client.values_batch_get, self.id,
                           [f"{_quote(tab.title)}!{_col(c)}2:{_col(c)}" for c in present],
                           {"valueRenderOption": "FORMATTED_VALUE"})
        lists = {c: [(r[0] if r else "") for r in vr.get("values", [])]
                 for c, vr in zip(present, reply.get("valueRanges", []), strict=True)}
        length = max((len(v) for v in lists.values()), default=0)

        def cell(c, n) -> str:
            return str(lists[c][n]).strip() if c is not None and n < len(lists[c]) else ""

        out: dict[tuple, dict[str, str]] = {}
        for n in range(length):
            key = tuple(cell(c, n) for c in columns[:len(tab.key)])
            if all(key):
                out.setdefault(key, {f: cell(c, n)
                                     for f, c in zip(fields, columns[len(tab.key):], strict=True)})
        return out

    def put(self, tab: Tab, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
        for attempt in range(3):
            try:
                return self._put(tab, header, rows)
            except UncertainWrite:
                # Applied or not, the rows are written by key: writing again doubles nothing.
                log.warning("the archive's write may not have landed (attempt %d); writing again",
                            attempt + 1)
        raise TrackerError(f"could not write to {self.location} after 3 tries; run again "
                           "(the tracker was not changed)")

    def _put(self, tab: Tab, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
        sheets = self._sheets()
        props = sheets.get(normalize_header(tab.title))
        setup: list[dict] = []
        if props is None:
            props = {"sheetId": _new_id(sheets), "title": tab.title,
                     "gridProperties": {"rowCount": 1, "columnCount": max(len(header), 1),
                                        "frozenRowCount": 1}}
            setup.append({"addSheet": {"properties": props}})
            first = sheets.get("sheet1")
            if first is not None and len(sheets) == 1:
                setup.append({"deleteSheet": {"sheetId": first["sheetId"]}})  # Drive's empty first tab
            have, old = [], []
        else:
            have, old = self.rows(tab)
        archive_header, added = merged_header(have, header)
        sheet_id = props["sheetId"]
        columns = props.get("gridProperties", {}).get("columnCount", 26)
        if len(archive_header) > columns:
            setup.append({"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                              "length": len(archive_header) - columns}})
        if added or not have:
            setup.append({"updateCells": {"start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                                          "rows": [{"values": [_cell(h) for h in archive_header]}],
                                          "fields": FIELDS}})
        at = {}
        for i, row in enumerate(old, start=1):
            at.setdefault(row_key(tab, archive_header, row), i)
        updates, appends = [], []
        for row in rows:
            cells = placed(tab, header, row, archive_header)
            key = row_key(tab, archive_header, [str(c) for c in cells])
            if key in at:
                if tab.key:
                    updates.append({"updateCells": {
                        "start": {"sheetId": sheet_id, "rowIndex": at[key], "columnIndex": 0},
                        "rows": [{"values": [_cell(c) for c in cells]}], "fields": FIELDS}})
                continue
            at[key] = -1
            appends.append({"values": [_cell(c) for c in cells]})
        requests_ = [*setup, *updates]
        for start in range(0, len(appends), 500):
            requests_.append({"appendCells": {"sheetId": sheet_id, "rows": appends[start:start + 500],
                                              "fields": FIELDS}})
        for chunk in _chunks(iter(requests_), MAX_PAYLOAD):
            if chunk:
                self._send(chunk)
        return len(appends)

    def _send(self, chunk: list[bytes]) -> None:
        payload = b'{"requests":[' + b",".join(chunk) + b"]}"
        self._call("writing to the archive", self.client.request, "post",
                   SPREADSHEET_BATCH_UPDATE_URL % self.id, data=payload,
                   headers={"Content-Type": "application/json; charset=utf-8"})


def _new_id(sheets: dict[str, dict]) -> int:
    used = {p["sheetId"] for p in sheets.values()}
    candidate = 1
    while candidate in used:
        candidate += 1
    return candidate

