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


# ---------------------------------------------------------------------- resumable uploads

UPLOAD = "/upload/drive/v3/files"
KIB256 = 256 * 1024


def start(drive, parent: str, name: str, size: int | None, fields: str = "", who: str = JOB,
          props: dict | None = None) -> requests.Response:
    headers = {"X-Upload-Content-Type": "video/mp4"}
    if size is not None:
        headers["X-Upload-Content-Length"] = str(size)
    meta = {"name": name, "parents": [parent], "appProperties": props or {}, "mimeType": "video/mp4"}
    params = {"uploadType": "resumable", **({"fields": fields} if fields else {})}
    return drive("POST", UPLOAD, who, params=params, json=meta, headers=headers)


def session_path(reply: requests.Response) -> str:
    """The session URI is on Google's host, as Google gives it: the same path and query here."""
    location = reply.headers["Location"]
    assert location.startswith("https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable&upload_id=")
    return location.removeprefix("https://www.googleapis.com")


def put(drive, path: str, data: bytes = b"", content_range: str | None = None) -> requests.Response:
    headers = {"Content-Range": content_range} if content_range else {}
    return drive("PUT", path, data=data, headers=headers)


def test_a_resumable_upload_in_drives_shapes(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    data = bytes(range(256)) * (KIB256 // 256) + b"\x00tail \xff"  # 256 KiB and a little more
    size = len(data)
    began = start(drive, folder, "वॉर्ड.mp4", size, "id,name,mimeType,md5Checksum,appProperties,parents,size",
                  props={"sheets_sync_key": "7-1-1"})
    assert began.status_code == 200 and began.content == b""
    path = session_path(began)
    [session] = drive.server.upload_sessions.values()
    assert path.endswith(session.id) and drive.server.children(folder) == []  # no file before the bytes
    nothing = put(drive, path, content_range=f"bytes */{size}")
    assert nothing.status_code == 308 and "Range" not in nothing.headers  # nothing kept yet
    first = put(drive, path, data[:KIB256], f"bytes 0-{KIB256 - 1}/{size}")
    assert first.status_code == 308 and first.headers["Range"] == f"bytes=0-{KIB256 - 1}"
    status = put(drive, path, content_range=f"bytes */{size}")
    assert status.status_code == 308 and status.headers["Range"] == f"bytes=0-{KIB256 - 1}"
    done = put(drive, path, data[KIB256:], f"bytes {KIB256}-{size - 1}/{size}")
    assert done.status_code == 200
    made = done.json()
    assert made == {"id": made["id"], "name": "वॉर्ड.mp4", "mimeType": "video/mp4",
                    "md5Checksum": hashlib.md5(data).hexdigest(),
                    "appProperties": {"sheets_sync_key": "7-1-1"},
                    "parents": [folder], "size": str(size)}  # masked by the POST's fields
    assert drive.server.drive_files[made["id"]].data == data
    # Asked again, or its last bytes sent again: the same one file, never a second.
    assert put(drive, path, content_range=f"bytes */{size}").json() == made
    assert put(drive, path, data[KIB256:], f"bytes {KIB256}-{size - 1}/{size}").json() == made
    assert [f.id for f in drive.server.children(folder)] == [made["id"]]


def test_all_the_bytes_in_one_put_and_the_default_reply(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    data = b"\x00video\xff" * 1000
    path = session_path(start(drive, folder, "v.mp4", len(data)))
    done = put(drive, path, data)  # no Content-Range: all of it
    assert done.status_code == 200 and set(done.json()) == {"kind", "id", "name", "mimeType"}
    assert drive.server.drive_files[done.json()["id"]].data == data


def test_what_a_session_refuses(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    data = b"x" * (KIB256 + 10)
    path = session_path(start(drive, folder, "v.mp4", len(data)))

    def refused(reply: requests.Response, code: int = 400, reason: str = "badContent") -> str:
        assert reply.status_code == code, reply.text
        error = reply.json()["error"]
        assert error["errors"][0]["reason"] == reason
        return error["message"]

    assert "256 KiB" in refused(put(drive, path, data[:1000], f"bytes 0-999/{len(data)}"))
    assert "ask its status" in refused(put(drive, path, data[5:], f"bytes 5-{len(data) - 1}/{len(data)}"))
    assert "does not match" in refused(put(drive, path, data, f"bytes 0-5/{len(data)}"))
    assert "not the" in refused(put(drive, path, data, f"bytes 0-{len(data) - 1}/{len(data) + 1}"))
    assert "parse" in refused(put(drive, path, data, "0-1/2"))
    assert drive.server.children(folder) == [] and put(drive, path, data).status_code == 200
    # A session Google forgot (a week on) or never made: 404, start again.
    other = session_path(start(drive, folder, "w.mp4", 3))
    drive.server.expire_upload_sessions()
    refused(put(drive, other, b"abc"), 404, "notFound")
    unknown = UPLOAD + "?uploadType=resumable&upload_id=nope"
    refused(put(drive, unknown, content_range="bytes */3"), 404, "notFound")
    # The folder is checked when the session begins.
    readonly = drive.server.make_drive_folder("R", OWNER, shared={JOB: "reader"})
    refused(start(drive, readonly, "v.mp4", 3), 403, "insufficientFilePermissions")


def test_a_full_drive_refuses_a_session_at_its_start_and_at_its_last_bytes(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    path = session_path(start(drive, folder, "v.mp4", 3))
    drive.server.fill_drive_storage()
    refused = start(drive, folder, "w.mp4", 3)
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0]["reason"] == "storageQuotaExceeded"
    late = put(drive, path, b"abc")
    assert late.status_code == 403 and late.json()["error"]["errors"][0]["reason"] == "storageQuotaExceeded"
    assert drive.server.children(folder) == []
    drive.server.fill_drive_storage(False)
    assert put(drive, path, content_range="bytes */3").status_code == 308  # the refused bytes not kept
    assert put(drive, path, b"abc").status_code == 200


def test_a_cut_upload_keeps_whole_256_kib_units_and_is_resumed_from_its_range(drive):
    folder = drive.server.make_drive_folder("F", JOB)
    data = bytes(range(256)) * 4096  # 1 MiB
    path = session_path(start(drive, folder, "v.mp4", len(data)))
    drive.server.cut_next_upload(KIB256 * 2 + 1000)
    with pytest.raises(requests.ConnectionError):
        put(drive, path, data)
    status = put(drive, path, content_range=f"bytes */{len(data)}")
    assert status.status_code == 308 and status.headers["Range"] == f"bytes=0-{2 * KIB256 - 1}"
    done = put(drive, path, data[2 * KIB256:], f"bytes {2 * KIB256}-{len(data) - 1}/{len(data)}")
    assert done.status_code == 200 and drive.server.drive_files[done.json()["id"]].data == data


@pytest.mark.parametrize("status,reason", [(403, "userRateLimitExceeded"), (403, "rateLimitExceeded"),
                                           (429, "rateLimitExceeded")])
def test_throttling_answers_drives_usage_limits_body_and_applies_nothing(drive, status, reason):
    folder = drive.server.make_drive_folder("F", JOB)
    drive.server.throttle_next(status=status, reason=reason, method="POST", path=r"^/upload/")
    refused = start(drive, folder, "v.mp4", 3)
    assert refused.status_code == status
    error = refused.json()["error"]
    assert error["code"] == status and error["errors"][0]["domain"] == "usageLimits"
    assert error["errors"][0]["reason"] == reason and "Rate Limit Exceeded" in error["message"]
    assert drive.server.upload_sessions == {}  # refused before it began
    assert start(drive, folder, "v.mp4", 3).status_code == 200  # once only
    drive.server.configure({"faults": [{"reason": reason, "status": status, "path": "^/upload/"}]})
    assert upload(drive, folder, "a.pdf", b"a").status_code == status  # multipart too, and by config
    assert drive.server.children(folder) == []
