"""A workbook's department tabs, found by an identity that survives a rename.

On Google Sheets a tab keeps its id when a person renames it. A workbook's sheets
have no such id, so each department's tab carries a hidden name scoped to its
sheet whose value is the tab's name (``"pending:SWM"``). The name moves with the
sheet when a person renames or moves it, in openpyxl, LibreOffice and Excel
alike. (A sheet's codeName does not survive a LibreOffice save; a hidden cell can
be sorted, cleared or deleted with its row.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from openpyxl.workbook.defined_name import DefinedName

from sheets_sync.schema import Tab, normalize_header
from sheets_sync.titles import TITLE_LIMIT, is_valid_title, title_length, valid_title

TAB_IDENTITY = "sheets_sync_tab"


def find_department_tabs(wb, tabs: Mapping[str, Tab]) -> dict[str, Tab]:
    """The department tabs of ``tabs`` that stand under another title in ``wb``.

    Each is found by its identity, or (a tab an older version made) by its title,
    whole or cut to 31 characters by a LibreOffice save, and then given the
    identity. A tab a person renamed keeps their title; a title a workbook refuses
    (over 31 characters, made by an older version) is made valid in place. All of it
    is saved with the run's write, so no tab is made twice and nothing typed is left
    behind in a tab the job no longer sees.
    """
    marked = _sheets_by_identity(wb.worksheets)
    out: dict[str, Tab] = {}
    for tab in [t for t in tabs.values() if t.department]:
        ws = _department_sheet(wb.worksheets, tab, marked)
        if ws is None:
            continue
        if not is_valid_title(ws.title):
            taken = {t.casefold() for t in wb.sheetnames if t != ws.title}
            taken |= {t.title.casefold() for t in tabs.values() if t.name != tab.name}
            ws.title = valid_title(ws.title, tab.department, taken)
        mark(ws, tab.name)
        if ws.title != tab.title:
            out[tab.name] = replace(tab, title=ws.title)
    return out


def identity(ws) -> str | None:
    """The tab name a sheet carries, or None (a sheet the job did not make)."""
    name = ws.defined_names.get(TAB_IDENTITY)
    text = (name.attr_text or "").strip() if name is not None else ""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return None


def mark(ws, tab_name: str) -> None:
    """Give the sheet its tab's identity."""
    if identity(ws) != tab_name:
        quoted = '"' + tab_name.replace('"', '""') + '"'
        ws.defined_names.add(DefinedName(TAB_IDENTITY, attr_text=quoted, hidden=True))


def _sheets_by_identity(sheets: Sequence) -> dict[str, list]:
    out: dict[str, list] = {}
    for ws in sheets:
        found = identity(ws)
        if found is not None:
            out.setdefault(found, []).append(ws)
    return out


def _department_sheet(sheets: Sequence, tab: Tab, marked: Mapping[str, list]):
    """The sheet of a department's tab: the one with its identity (of several, copies a
    person made, the one under the title the job knows); else an unmarked sheet under
    its title, or under that title cut short by a LibreOffice save."""
    own = marked.get(tab.name, [])
    if own:
        return next((ws for ws in own if ws.title == tab.title), own[0])
    for ws in sheets:
        if identity(ws) is None and (normalize_header(ws.title) == normalize_header(tab.title)
                                     or _cut_by_a_save(ws.title, tab.title)):
            return ws
    return None


def _cut_by_a_save(title: str, known: str) -> bool:
    # LibreOffice cuts a longer name to 31 characters when it saves a workbook (one
    # less where that would split an emoji).
    return (title_length(known) > TITLE_LIMIT and known.startswith(title)
            and title_length(title) >= TITLE_LIMIT - 1)
