"""The fake's Drive folders and uploads (sheets_sync/testing/fake_sheets_drive_files.py),
over real HTTP, in the shapes Drive v3 documents."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

JOB = "job@proj.iam.gserviceaccount.com"
OWNER = "owner@mahapalika.example"


@pytest.fixture
def drive(fake_sheets):
    def call(method: str, path: str, who: str = JOB, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {fake_sheets.token_for(who)}", **kwargs.pop("headers", {})}
        return requests.request(method, fake_sheets.url + path, headers=headers, timeout=10, **kwargs)

    call.server = fake_sheets
    return call


def upload(drive, parent: str, name: str, data: bytes, props: dict | None = None, fields: str = ""):
    meta = {"name": name, "parents": [parent], "appProperties": props or {}}
    body = (b"--b\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + json.dumps(meta).encode()
            + b"\r\n--b\r\nContent-Type: application/pdf\r\n\r\n" + data + b"\r\n--b--\r\n")
    params = {"uploadType": "multipart", **({"fields": fields} if fields else {})}
    return drive("POST", "/upload/drive/v3/files", params=params, data=body,
                 headers={"Content-Type": "multipart/related; boundary=b"})


def test_a_folder_and_an_upload_in_drives_shapes(drive):
    made = drive("POST", "/drive/v3/files", json={"name": "Attachments", "mimeType":
                 "application/vnd.google-apps.folder", "appProperties": {"tag": "x"}}).json()
    assert set(made) == {"kind", "id", "name", "mimeType"}  # Drive's default reply
    data = b"%PDF \x00\xff"
    reply = upload(drive, made["id"], "पत्र.pdf", data, {"k": "1-2-1"}).json()
    assert set(reply) == {"kind", "id", "name", "mimeType"} and reply["mimeType"] == "application/pdf"
    got = drive("GET", f"/drive/v3/files/{reply['id']}",
                params={"fields": "name,md5Checksum,webViewLink,appProperties,parents"}).json()
    assert got == {"name": "पत्र.pdf", "md5Checksum": hashlib.md5(data).hexdigest(),
                   "webViewLink": f"https://drive.google.com/file/d/{reply['id']}/view?usp=drivesdk",
                   "appProperties": {"k": "1-2-1"}, "parents": [made["id"]]}
    assert drive.server.drive_files[reply["id"]].data == data


def test_listing_by_q_a_page_at_a_time(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    ids = [upload(drive, folder, f"f{n}.pdf", b"x%d" % n, {"k": str(n)}).json()["id"] for n in range(3)]
    q = f"'{folder}' in parents and trashed = false and (appProperties has {{ key='k' and value='1' }} " \
        "or name = 'f2.pdf')"
    found = drive("GET", "/drive/v3/files", params={"q": q, "fields": "files(id)"}).json()
    assert found == {"files": [{"id": ids[1]}, {"id": ids[2]}]}
    first = drive("GET", "/drive/v3/files", params={"q": f"'{folder}' in parents", "pageSize": "2",
                                                     "fields": "nextPageToken,files(id)"}).json()
    rest = drive("GET", "/drive/v3/files", params={"q": f"'{folder}' in parents", "pageSize": "2",
                                                    "pageToken": first["nextPageToken"],
                                                    "fields": "nextPageToken,files(id)"}).json()
    assert [f["id"] for f in first["files"] + rest["files"]] == ids and "nextPageToken" not in rest
    folders = drive("GET", "/drive/v3/files",
                    params={"q": "mimeType = 'application/vnd.google-apps.folder'"}).json()["files"]
    assert [f["id"] for f in folders] == [folder]
    bad = drive("GET", "/drive/v3/files", params={"q": "name contains 'f'"})
    assert bad.status_code == 400 and bad.json()["error"]["errors"][0]["reason"] == "invalid"


def test_who_may_see_add_to_and_mark_a_folder(drive):
    readonly = drive.server.make_drive_folder("R", OWNER, shared={JOB: "reader"})
    hidden = drive.server.make_drive_folder("H", OWNER)
    caps = drive("GET", f"/drive/v3/files/{readonly}", params={"fields": "capabilities"}).json()
    assert caps == {"capabilities": {"canAddChildren": False, "canEdit": False}}
    assert drive("GET", f"/drive/v3/files/{hidden}").status_code == 404
    refused = upload(drive, readonly, "a.pdf", b"a")
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0]["reason"] == "insufficientFilePermissions"
    mine = drive.server.make_drive_folder("M", JOB)
    marked = drive("PATCH", f"/drive/v3/files/{mine}", params={"fields": "appProperties"},
                   json={"appProperties": {"a": "1", "b": "2"}}).json()
    assert marked == {"appProperties": {"a": "1", "b": "2"}}
    unmarked = drive("PATCH", f"/drive/v3/files/{mine}", params={"fields": "appProperties"},
                     json={"appProperties": {"a": None}}).json()
    assert unmarked == {"appProperties": {"b": "2"}}


def test_a_full_drive_refuses_uploads_as_drive_does(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    drive.server.fill_drive_storage()
    refused = upload(drive, folder, "a.pdf", b"a")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["errors"][0]["reason"] == "storageQuotaExceeded"
    assert error["message"] == "The user's Drive storage quota has been exceeded."
    assert drive.server.children(folder) == []
    drive.server.fill_drive_storage(False)
    assert upload(drive, folder, "a.pdf", b"a").status_code == 200
