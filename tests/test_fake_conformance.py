"""Replay real recorded Google traffic against the local Sheets fake.

The cassettes in ``../shared/conformance/sheets-api/`` (or ``$SHEETS_SYNC_CONFORMANCE_DIR``)
hold requests gspread sent to the real Sheets v4 / Drive v3 APIs and Google's answers.
Each cassette is split into recordings (groups by spreadsheet id, see the README there);
each recording is replayed in order, over HTTP, against a freshly reset fake, with a token
for the identity that made the recording.  Recorded ids (spreadsheet ids, sheetIds from
``addSheet``, ``protectedRangeId``, ``namedRangeId``) are mapped to the ids the fake hands out: learnt from
the first response that names them, substituted into later requests and expected bodies.
A spreadsheet id used but never created in the recording (someone else's private file)
is created in the fake as owned by another identity.

Scope: what the Google backend and the simulated people use (see the fake's module
docstrings).  Cassettes about anything else are out of scope as a whole
(:data:`OUT_OF_SCOPE`); read-only requests for things the fake leaves out are not
replayed where they occur in an in-scope cassette (:data:`NOT_REPLAYED`).

Status codes must match exactly and JSON bodies must be equal after the id mapping, with
no normalisation at all (``spreadsheetUrl``, the default-format block and the theme of a
new spreadsheet match: the fake produces the same values).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path

import pytest
import requests

from sheets_sync.testing.fake_sheets import FakeSheetsServer

RECORDER = "telegram-budgeter@telegram-budgeter.iam.gserviceaccount.com"
STRANGER = "someone-else@example.com"


def _cassette_dir() -> Path:
    env = os.environ.get("SHEETS_SYNC_CONFORMANCE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared/conformance/sheets-api"


CASSETTES = _cassette_dir()

# Out of scope, and why: one line each.  Everything else (values get/batchGet/update/append/
# clear, spreadsheets.get with fields/ranges, sheets added/hidden/renamed/resized/deleted,
# protected ranges, validation, rows and columns inserted/deleted, named ranges made and
# deleted) is in scope.
_NOT_USED = "; neither the backend nor the simulated people use it."
OUT_OF_SCOPE = {
    "ClientTest.test_client_export_spreadsheet": "Drive export (a file as PDF/CSV)" + _NOT_USED,
    "SpreadsheetTest.test_export_spreadsheet": "Drive export, as above" + _NOT_USED,
    "ClientTest.test_copy": "Drive files.copy and the comments API" + _NOT_USED,
    "ClientTest.test_import_csv": "Drive v2 media upload with conversion" + _NOT_USED,
    "ClientTest.test_openall": "Drive listing (by name, the recorder's whole Drive)" + _NOT_USED,
    "ClientTest.test_open_all_has_metadata": "Drive listing, as test_openall" + _NOT_USED,
    "ClientTest.test_list_spreadsheet_files": "Drive listing" + _NOT_USED,
    "ClientTest.test_open_by_name_has_metadata": "opening by name is a Drive listing" + _NOT_USED,
    "ClientTest.test_no_found_exeption": "opening by name is a Drive listing" + _NOT_USED,
    "SpreadsheetTest.test_creationTime_prop": "Drive file metadata (createdTime)" + _NOT_USED,
    "SpreadsheetTest.test_get_lastUpdateTime": "Drive modifiedTime after a spreadsheet "
                                               "property change" + _NOT_USED,
    "SpreadsheetTest.test_lastUpdateTime_prop": "as test_get_lastUpdateTime" + _NOT_USED,
    "SpreadsheetTest.test_update_title": "updateSpreadsheetProperties (the title)" + _NOT_USED,
    "CellTest.test_update_named_range": "updateNamedRange (the backend makes and deletes "
                                        "named ranges, never changes one)" + _NOT_USED,
    "WorksheetTest.test_get_values_merge_cells_with_named_range": "merges and named ranges"
                                                                  + _NOT_USED,
    "CellTest.test_merge_cells": "mergeCells/unmergeCells" + _NOT_USED,
    "WorksheetTest.test_batch_merged_cells": "mergeCells" + _NOT_USED,
    "WorksheetTest.test_get_merge_cells_and_unmerge_cells": "mergeCells/unmergeCells" + _NOT_USED,
    "WorksheetTest.test_get_values_and_combine_merged_cells": "mergeCells" + _NOT_USED,
    "WorksheetTest.test_get_values_merge_cells_from_centre_of_sheet": "mergeCells" + _NOT_USED,
    "WorksheetTest.test_get_values_merge_cells_outside_of_range": "mergeCells" + _NOT_USED,
    "WorksheetTest.test_copy_cut_range": "copyPaste/cutPaste" + _NOT_USED,
    "WorksheetTest.test_group_columns": "addDimensionGroup/deleteDimensionGroup" + _NOT_USED,
    "WorksheetTest.test_group_rows": "addDimensionGroup/deleteDimensionGroup" + _NOT_USED,
    "WorksheetTest.test_auto_resize_columns": "autoResizeDimensions (Google measures fonts)"
                                              + _NOT_USED,
    "WorksheetTest.test_format": "cell colours (Google's 8-bit float32 colours and *Style "
                                 "twins)" + _NOT_USED,
    "WorksheetTest.test_set_tab_color": "tab colours" + _NOT_USED,
    "WorksheetTest.test_clear_tab_color": "tab colours" + _NOT_USED,
    "WorksheetTest.test_update_tab_color": "tab colours" + _NOT_USED,
    "WorksheetTest.test_hide_gridlines": "gridProperties.hideGridlines" + _NOT_USED,
    "WorksheetTest.test_show_gridlines": "gridProperties.hideGridlines" + _NOT_USED,
    "WorksheetTest.test_reorder_worksheets": "moving sheets (updateSheetProperties index)"
                                             + _NOT_USED,
    "WorksheetTest.test_worksheet_update_index": "moving sheets (updateSheetProperties index)"
                                                 + _NOT_USED,
    "WorksheetTest.test_get_notes": "cell notes" + _NOT_USED,
    "WorksheetTest.test_get_notes_2nd_sheet": "cell notes" + _NOT_USED,
    "WorksheetTest.test_worksheet_notes": "cell notes" + _NOT_USED,
    "WorksheetTest.test_get_all_records_value_render_options": "formula evaluation (=4/2 reads "
                                                               "2); its dates are checked in "
                                                               "tests/test_fake_dates.py" + _NOT_USED,
}
# Read-only requests not replayed inside in-scope cassettes (skipping them changes no
# state): (method, regex on the recorded path, reason).
NOT_REPLAYED = [
    ("GET", r"^/drive/v3/files/[^/]+$", "Drive file metadata (gspread's createdTime and "
                                         "modifiedTime)" + _NOT_USED),
]

ID_RE = re.compile(r"/(?:spreadsheets|files)/([A-Za-z0-9_-]{20,})")


def _all_cassettes() -> list[str]:
    if not CASSETTES.is_dir():
        return []
    return sorted(p.stem for p in CASSETTES.glob("*.json"))


def _recordings(interactions: list[dict]) -> list[list[tuple[int, dict]]]:
    """Split a cassette into recordings: a new one starts when a spreadsheet id shows up
    that differs from the current one and is created (POST .../files) by the interaction."""
    groups: list[list[tuple[int, dict]]] = []
    current_ids: set[str] = set()
    for i, it in enumerate(interactions):
        req = it["request"]
        creates = req["method"] == "POST" and urllib.parse.urlsplit(req["uri"]).path == (
            "/drive/v3/files")
        ids = set(ID_RE.findall(req["uri"]))
        if creates:
            body = json.loads(it["response"]["body"]["string"] or "{}")
            ids.add(body.get("id", ""))
        # A create after a delete of the current file starts a new recording.
        if not groups or (creates and current_ids and not (ids & current_ids)
                          and _deleted(groups[-1], current_ids)):
            groups.append([])
            current_ids = set()
        groups[-1].append((i, it))
        current_ids |= ids
    return groups


def _deleted(group: list[tuple[int, dict]], ids: set[str]) -> bool:
    return any(it["request"]["method"] == "DELETE" and set(ID_RE.findall(it["request"]["uri"]))
               & ids for _, it in group)


class IdMap:
    """Recorded id -> fake id, for spreadsheets (strings) and numeric/string object ids."""

    ID_KEYS = ("sheetId", "protectedRangeId", "namedRangeId")

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.objects: dict[str, dict] = {k: {} for k in self.ID_KEYS}

    def learn(self, recorded: object, actual: object, key: str | None = None) -> None:
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for k, v in recorded.items():
                if k in actual:
                    self.learn(v, actual[k], k)
        elif isinstance(recorded, list) and isinstance(actual, list):
            for r, a in zip(recorded, actual, strict=False):
                self.learn(r, a, key)
        elif key in ("id", "spreadsheetId") and isinstance(recorded, str):
            if recorded not in self.files and isinstance(actual, str):
                self.files[recorded] = actual
        elif key in self.objects and recorded not in self.objects[key]:
            self.objects[key][recorded] = actual

    def text(self, s: str) -> str:
        for rec, fake in self.files.items():
            s = s.replace(rec, fake)
        return s

    def apply(self, value: object, key: str | None = None) -> object:
        if isinstance(value, dict):
            return {k: self.apply(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v, key) for v in value]
        if key in self.objects and value in self.objects[key]:
            return self.objects[key][value]
        if isinstance(value, str):
            return self.text(value)
        return value


def _diff(expected: object, actual: object, path: str = "$") -> str | None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k in sorted(set(expected) | set(actual)):
            if k not in actual:
                return f"{path}.{k}: missing (expected {json.dumps(expected[k])[:200]})"
            if k not in expected:
                return f"{path}.{k}: unexpected {json.dumps(actual[k])[:200]}"
            d = _diff(expected[k], actual[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path}: length {len(actual)} != expected {len(expected)}: " \
                   f"{json.dumps(actual)[:300]} vs {json.dumps(expected)[:300]}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            d = _diff(e, a, f"{path}[{i}]")
            if d:
                return d
        return None
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool)
                  for x in (expected, actual))
    if expected != actual or (type(expected) is not type(actual) and not numbers):
        return f"{path}: {json.dumps(actual)[:300]} != expected {json.dumps(expected)[:300]}"
    return None


def _parse(body: str | bytes | None) -> object:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def _not_replayed(req: dict) -> bool:
    path = urllib.parse.urlsplit(req["uri"]).path
    return any(req["method"] == m and re.search(p, path) for m, p, _ in NOT_REPLAYED)


def replay(fake: FakeSheetsServer, name: str) -> list[tuple[int, str | None]]:
    """Replay one cassette; returns (interaction index, mismatch or None) for each
    interaction replayed."""
    data = json.loads((CASSETTES / f"{name}.json").read_text())
    results: list[tuple[int, str | None]] = []
    session = requests.Session()
    for group in _recordings(data["interactions"]):
        fake.reset()
        token = fake.token_for(RECORDER)
        ids = IdMap()
        for index, it in group:
            req, resp = it["request"], it["response"]
            if _not_replayed(req):
                continue
            for rec in ID_RE.findall(req["uri"]):
                if rec not in ids.files:  # used, never created: someone else's file
                    ids.files[rec] = fake.create_spreadsheet("Private", STRANGER)
            split = urllib.parse.urlsplit(ids.text(req["uri"]))
            url = fake.url + split.path + ("?" + split.query if split.query else "")
            body = req.get("body")
            if body:
                body = json.dumps(ids.apply(json.loads(body)))
            headers = {"Authorization": f"Bearer {token}"}
            if body:
                headers["Content-Type"] = "application/json"
            got = session.request(req["method"], url, data=body.encode() if body else None,
                                   headers=headers, timeout=30)
            expected = _parse(resp["body"].get("string"))
            actual = _parse(got.content)
            if got.status_code < 300 and resp["status"]["code"] < 300:
                ids.learn(expected, actual)
            if got.status_code != resp["status"]["code"]:
                results.append((index, f"status {got.status_code} != {resp['status']['code']}:"
                                       f" {got.text[:300]}"))
                continue
            results.append((index, _diff(ids.apply(expected), actual)))
    session.close()
    return results


@pytest.fixture(scope="module")
def fake():
    with FakeSheetsServer() as server:
        yield server


_SUMMARY: dict[str, tuple[int, int]] = {}
IN_SCOPE = [n for n in _all_cassettes() if n not in OUT_OF_SCOPE]


def _require_cassettes() -> None:
    if not CASSETTES.is_dir():
        pytest.skip(f"conformance cassettes not found at {CASSETTES} "
                    "(set SHEETS_SYNC_CONFORMANCE_DIR or put ../shared beside the clone)")


@pytest.mark.parametrize("name", IN_SCOPE or ["<no cassettes>"])
def test_cassette(fake: FakeSheetsServer, name: str) -> None:
    _require_cassettes()
    results = replay(fake, name)
    failures = [f"[{i}] {d}" for i, d in results if d]
    _SUMMARY[name] = (sum(1 for _, d in results if not d), len(results))
    assert results, "cassette has no interactions"
    assert not failures, f"{len(failures)} of {len(results)} interactions differ:\n" + \
        "\n".join(failures[:10])


def test_summary(fake: FakeSheetsServer) -> None:
    """All in-scope interactions match; print the figures."""
    _require_cassettes()
    for name in IN_SCOPE:
        if name not in _SUMMARY:
            results = replay(fake, name)
            _SUMMARY[name] = (sum(1 for _, d in results if not d), len(results))
    matched = sum(m for m, _ in _SUMMARY.values())
    total = sum(t for _, t in _SUMMARY.values())
    print(f"\nconformance: {len(IN_SCOPE)} in-scope cassettes, {matched}/{total} interactions "
          f"match; out of scope: {len(OUT_OF_SCOPE)} cassettes, and not replayed: "
          f"{', '.join(f'{m} {p}' for m, p, _ in NOT_REPLAYED)}")
    assert len(IN_SCOPE) >= 60  # the scope only narrows on purpose, with a reason
    assert matched == total
