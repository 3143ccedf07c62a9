"""The mail job's attachments in a Google Drive folder, on the Google backend (#15).

The same interface as :class:`sheets_sync.mail.files.FolderStore`: ``save(key, name,
data, content_type)`` returns what the Content row's Attachments cell says of the file,
here its Drive link (text, never a formula). The folder is:

* ``SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER`` (a folder id or URL) when set: checked, never
  shared by the job (its owner decides who sees it);
* else "<tracker title> attachments", made by the job's account, tagged with the
  appProperty ``sheets_sync_tracker=<spreadsheet id>`` (found again by that tag, not
  by a name someone may change) and shared like the tracker, once
  (``sheets_sync_shared=1`` marks it done).

:meth:`DriveStore.prepare` finds or makes the folder before the mailbox is read, so a
refusal costs nothing and no mail is read. Each file carries ``sheets_sync_key=<key>``
(``<uidvalidity>-<uid>-<n>``): before an upload the key is looked up, so a run killed
after the upload and before the tracker's write finds the file rather than uploading it
twice; an upload whose answer was lost is looked up again before it is sent again. After
the mailbox is renumbered (a new UIDVALIDITY) the keys change: a file in the folder with
the same name and the same MD5 is the same attachment, and is used again.

Uploads: a file of up to 5 MB (:data:`MULTIPART_MAX_BYTES`) goes in one multipart
request, as Google documents for small files. A larger one (the videos departments send,
up to ``SHEETS_SYNC_MAIL_MAX_ATTACHMENT_MB``, 25 by default) goes by the resumable
protocol: a ``POST`` begins a session (the metadata, no bytes, no file yet), then one
``PUT`` to the session URI carries all the bytes and makes the file. One ``PUT`` rather
than 256 KiB-multiple chunks: the bytes are in memory already, Google's own Python
client sends up to 100 MB in one request by default, and each chunk would cost a
request; a ``PUT`` cut off part-way loses nothing, as the session keeps what arrived.
A ``PUT`` whose answer is lost (a 5xx, a dropped connection) is followed by the
session's status query (``bytes */<size>``): 200 means the file is made, a 308's
``Range`` says how much Drive has, and only the rest is sent. A session makes one file
at most, so no look-up is needed while it lasts; one answering 404 (gone after its
week) is given up, the key looked up, and a new one begun. A run killed between the
``POST`` and the ``PUT`` leaves a session no one uses, which Drive forgets; the next run
finds no file for the key and begins again. Every send counts against ``UPLOAD_TRIES``.
Drive's rate-limit answers (403 ``userRateLimitExceeded``/``rateLimitExceeded``, 429) are
retried with backoff by :class:`~.client.RetryingHTTPClient`; a full Drive or a missing
permission is not.

Requests: one ``files.list`` (the folder; ``files.get`` for a given one) a run, and per
attachment one ``files.list``, plus, for a new file, one multipart upload (2 in all) or,
above 5 MB, the session's ``POST`` and one ``PUT`` (3 in all); a ``PUT`` whose answer is
lost adds the status query, and a ``PUT`` of the bytes Drive lacks when it lacks any.
The first run makes the folder and shares it: ``files.create``, ``permissions.list``,
one ``permissions.create`` per person, one ``files.update``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gspread.exceptions import APIError
from gspread.urls import DRIVE_FILES_API_V3_URL

from sheets_sync.backends.gsheets.client import (
    THROTTLED,
    RetryingHTTPClient,
    UncertainWrite,
    error_reasons,
    load_credentials,
)
from sheets_sync.backends.gsheets.sharing import share_like_tracker
from sheets_sync.endpoint import session_for
from sheets_sync.errors import TrackerError
from sheets_sync.mail.errors import MailboxSettingsError, MailboxUnavailable

log = logging.getLogger(__name__)
FOLDER_MIME = "application/vnd.google-apps.folder"
UPLOAD_URL = "https://www.googleapis.com/upload/drive/v3/files"
SETTING = "SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER"
TRACKER_TAG, SHARED_TAG, KEY_TAG = "sheets_sync_tracker", "sheets_sync_shared", "sheets_sync_key"
FILE_FIELDS = "id,name,md5Checksum,webViewLink,appProperties"
#: An upload whose answer is lost is looked up (or its session asked), then sent again, at
#: most this many times in all.
UPLOAD_TRIES = 3
#: Google documents multipart uploads for files of 5 MB or less and resumable ones above.
#: "5 MB" is read as 5,000,000 bytes, the smaller of its two meanings: a file between
#: the two costs one request more, never a refusal.
MULTIPART_MAX_BYTES = 5_000_000
_SESSION_URI = re.compile(r"^https://[A-Za-z0-9.-]+\.googleapis\.com/")
_RANGE = re.compile(r"^bytes=0-(\d+)$")
_ALL_DRIVES = {"supportsAllDrives": "true"}
_FOLDER_ID = re.compile(r"(?:/folders/|[?&]id=)([A-Za-z0-9_-]{10,})|^([A-Za-z0-9_-]{10,})$")


class AttachmentsRefused(MailboxSettingsError):
    """Drive refused the folder or the file (not shared, gone, full): exit 2, nothing filed."""


class AttachmentsUnavailable(MailboxUnavailable):
    """Drive did not answer, or answered 5xx, after the retries: exit 5, the next run tries again."""


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at each call: the tests make the retries' waits instant


def folder_id(setting: str) -> str:
    """The id in ``SHEETS_SYNC_ATTACHMENTS_DRIVE_FOLDER`` (an id, or a folder's URL)."""
    found = _FOLDER_ID.search(setting.strip())
    if not found:
        raise AttachmentsRefused(f"{SETTING}={setting!r} is not a Drive folder id or URL; copy the "
                                 "folder's address from Drive (https://drive.google.com/drive/folders/…)")
    return found.group(1) or found.group(2)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@dataclass
class _Session:
    """A resumable upload begun: where its bytes go, and whether Drive may already hold some."""

    uri: str
    media_type: str
    unsure: bool = False  # a PUT went without an answer: ask the status before sending more


class _SessionGone(UncertainWrite):
    """The session answered 404 (expired after its week, or unknown): look up, then begin again."""


def _kept(status, size: int) -> int:
    """How many bytes Drive has, from a 308's ``Range: bytes=0-<last>`` (none: nothing yet)."""
    found = _RANGE.match(status.headers.get("Range") or "")
    kept = int(found.group(1)) + 1 if found else 0
    if status.status_code != 308 or not kept < size:
        raise _SessionGone(f"the upload session answered {status.status_code} "
                           f"{status.headers.get('Range')!r}")  # not the protocol's: start again
    return kept


class DriveStore:
    """Attachments in a Drive folder; see the module docstring."""

    def __init__(self, spreadsheet_id: str, *, credentials: str | None = None, folder: str = "",
                 dry_run: bool = False, sleep: Callable[[float], None] | None = None) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.credentials = credentials
        self.setting = folder.strip()
        self.dry_run = dry_run
        self.sleep = sleep
        self.folder: dict | None = None
        self.client: RetryingHTTPClient | None = None
        self.identity = ""

    # ------------------------------------------------------------------ the folder

    def prepare(self) -> None:
        """Find (or make and share) the folder, or check the given one; before the mail is read."""
        creds = load_credentials(self.credentials)
        self.identity = creds.service_account_email
        self.client = RetryingHTTPClient(creds, session_for(credentials=creds), sleep=self.sleep or _sleep)
        if self.setting:
            self.folder = self._given(folder_id(self.setting))
            return
        self.folder = self._tagged()
        if self.folder is None and not self.dry_run:
            self.folder = self._make()
        if self.folder is not None and not self.dry_run and \
                (self.folder.get("appProperties") or {}).get(SHARED_TAG) != "1":
            self._share(self.folder["id"])

    def _given(self, fid: str) -> dict:
        refused = (f"{SETTING}: Drive folder {fid} was not found or is not shared with {self.identity}; "
                   f"share it with {self.identity} as Editor (Content manager in a shared drive) or "
                   "name another folder")
        meta = self._call("opening the attachments folder", "get", f"{DRIVE_FILES_API_V3_URL}/{fid}",
                          refused=refused, params={
                              "fields": "id,name,mimeType,trashed,webViewLink,capabilities(canAddChildren)",
                              **_ALL_DRIVES})
        if meta.get("mimeType") != FOLDER_MIME or meta.get("trashed"):
            raise AttachmentsRefused(f"{SETTING}: {fid} ({meta.get('name', '')!r}) is not a folder in Drive"
                                     + (" (it is in the trash)" if meta.get("trashed") else "")
                                     + "; give a folder's id or URL")
        if not (meta.get("capabilities") or {}).get("canAddChildren"):
            raise AttachmentsRefused(f"{SETTING}: {self.identity} may not add files to the Drive folder "
                                     f"{meta.get('name', fid)!r}; share it with {self.identity} as Editor "
                                     "(Content manager in a shared drive)")
        return meta

    def _tagged(self) -> dict | None:
        q = (f"mimeType = '{FOLDER_MIME}' and appProperties has {{ key='{TRACKER_TAG}' and "
             f"value='{_quoted(self.spreadsheet_id)}' }} and trashed = false")
        reply = self._call("looking for the attachments folder in Drive", "get", DRIVE_FILES_API_V3_URL,
                           params={"q": q, "fields": "files(id,name,webViewLink,appProperties)",
                                   "includeItemsFromAllDrives": "true", **_ALL_DRIVES})
        found = reply.get("files") or []
        return found[0] if found else None

    def _make(self) -> dict:
        title = self._call("reading the tracker's title", "get",
                           f"https://sheets.googleapis.com/v4/spreadsheets/{self.spreadsheet_id}",
                           params={"fields": "properties.title"})["properties"]["title"]
        body = {"name": f"{title} attachments", "mimeType": FOLDER_MIME,
                "appProperties": {TRACKER_TAG: self.spreadsheet_id}}
        try:
            made = self._call("making the attachments folder in Drive", "post", DRIVE_FILES_API_V3_URL,
                              params={"fields": "id,name,webViewLink,appProperties", **_ALL_DRIVES},
                              json=body, uncertain=True)
        except UncertainWrite:
            made = self._tagged()  # Drive may have made it: find it by its tag before making another
            if made is None:
                raise AttachmentsUnavailable("Google Drive did not answer while making the attachments "
                                             "folder; run again (no mail was filed)") from None
        log.info("made the Drive folder %r (%s) for the attachments", made.get("name"), made["id"])
        return made

    def _share(self, fid: str) -> None:
        unsure = []

        def call(what, func, method, url, **kwargs):
            if method != "post":
                return self._response(what, method, url, **kwargs)
            try:
                return self._response(what, method, url, uncertain=True, **kwargs)
            except UncertainWrite:
                unsure.append(kwargs.get("json"))  # landed or not: shared again next run
                return None

        share_like_tracker(call, self.client, self.spreadsheet_id, fid, self.identity,
                           what="the attachments folder")
        if unsure:
            log.warning("%d share(s) of the attachments folder may not have landed; they are made "
                        "again next run", len(unsure))
            return  # not marked: the next run shares it again (sharing twice doubles nothing)
        try:
            self._call("marking the attachments folder shared", "patch", f"{DRIVE_FILES_API_V3_URL}/{fid}",
                       params={"fields": "id", **_ALL_DRIVES},
                       json={"appProperties": {SHARED_TAG: "1"}}, uncertain=True)
        except UncertainWrite:
            log.warning("the attachments folder's mark may not have landed; it is shared again next run")

    # ------------------------------------------------------------------ the files

    def save(self, key: str, name: str, data: bytes, content_type: str) -> str:
        if self.folder is None:
            if not self.dry_run:
                raise RuntimeError("DriveStore.prepare() must run before save()")
            return "a new Drive folder (dry run: not uploaded)"
        if self.dry_run:
            return f"{self.folder.get('webViewLink') or self.folder['id']} (dry run: not uploaded)"
        md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - Drive's own checksum, not security
        session: _Session | None = None  # a resumable upload's, kept while it is usable
        for _ in range(UPLOAD_TRIES):
            if session is None:  # a session makes one file at most: with one, no look-up is needed
                found = self._lookup(key, name, md5)
                if found is not None:
                    return found.get("webViewLink") or found["id"]
            try:
                if len(data) <= MULTIPART_MAX_BYTES:
                    made = self._multipart(key, name, data, content_type)
                else:
                    session = session or self._begin(key, name, data, content_type)
                    made = self._send_bytes(session, name, data)
                return made.get("webViewLink") or made["id"]
            except UncertainWrite as exc:
                if isinstance(exc, _SessionGone):
                    session = None  # looked up again, then a new session
                log.warning("the upload of %s may not have landed; %s before it is sent again", key,
                            "Drive is asked what it has" if session else "looked up")
        raise AttachmentsUnavailable(f"Google Drive did not confirm the upload of attachment {name!r} after "
                                     f"{UPLOAD_TRIES} tries; run again (no mail was filed)")

    def _lookup(self, key: str, name: str, md5: str) -> dict | None:
        """The file of this key; else one of this name and content (the mailbox renumbered)."""
        q = (f"'{_quoted(self.folder['id'])}' in parents and trashed = false and (appProperties has "
             f"{{ key='{KEY_TAG}' and value='{_quoted(key)}' }} or name = '{_quoted(name)}')")
        params = {"q": q, "fields": f"nextPageToken,files({FILE_FIELDS})", "pageSize": "100",
                  "includeItemsFromAllDrives": "true", **_ALL_DRIVES}
        same = None
        while True:
            reply = self._call("looking for the attachment in Drive", "get", DRIVE_FILES_API_V3_URL,
                               params=params)
            for f in reply.get("files") or []:
                if (f.get("appProperties") or {}).get(KEY_TAG) == key:
                    return f
                if same is None and f.get("name") == name and f.get("md5Checksum") == md5:
                    same = f
            if not reply.get("nextPageToken"):
                return same
            params = {**params, "pageToken": reply["nextPageToken"]}

    def _metadata(self, key: str, name: str) -> dict:
        """A new file's metadata: in the folder, tagged with its key (found again by it)."""
        return {"name": name, "parents": [self.folder["id"]], "appProperties": {KEY_TAG: key}}

    def _multipart(self, key: str, name: str, data: bytes, content_type: str) -> dict:
        meta = self._metadata(key, name)
        boundary = "sheets-sync-" + secrets.token_hex(12)
        media_type = content_type or "application/octet-stream"
        body = b"".join([
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(meta, ensure_ascii=False).encode("utf-8"),
            f"\r\n--{boundary}\r\nContent-Type: {media_type}\r\n\r\n".encode(),
            data, f"\r\n--{boundary}--\r\n".encode()])
        return self._call(f"uploading attachment {name!r} to Drive", "post", UPLOAD_URL,
                          params={"uploadType": "multipart", "fields": FILE_FIELDS, **_ALL_DRIVES},
                          data=body, headers={"Content-Type": f"multipart/related; boundary={boundary}"},
                          uncertain=True)

    def _begin(self, key: str, name: str, data: bytes, content_type: str) -> _Session:
        """A resumable session for this file: its metadata now, no bytes, no file yet (an
        answer lost here leaves a session no one uses, which Drive forgets in a week)."""
        media_type = content_type or "application/octet-stream"
        meta = {**self._metadata(key, name), "mimeType": media_type}
        what = f"starting the upload of attachment {name!r} to Drive"
        began = self._response(what, "post", UPLOAD_URL, json=meta, uncertain=True,
                               params={"uploadType": "resumable", "fields": FILE_FIELDS, **_ALL_DRIVES},
                               headers={"X-Upload-Content-Type": media_type,
                                        "X-Upload-Content-Length": str(len(data))})
        uri = began.headers.get("Location") or ""
        if not _SESSION_URI.match(uri):  # the token goes with the bytes: only to Google
            raise AttachmentsUnavailable(f"{what}: Google Drive answered with no upload address "
                                         f"({uri[:80]!r}); run again (no mail was filed)")
        return _Session(uri, media_type)

    def _send_bytes(self, session: _Session, name: str, data: bytes) -> dict:
        """The file, made by the session: all the bytes in one PUT, or, after a PUT whose
        answer was lost, the session's status and then only the bytes Drive lacks."""
        size = len(data)
        kept = 0
        if session.unsure:
            status = self._session_put(f"asking Drive how much of attachment {name!r} it has", session.uri,
                                       b"", {"Content-Range": f"bytes */{size}"}, safe=True)
            if status.status_code in (200, 201):
                return status.json()  # it was all there: the file is made
            kept = _kept(status, size)
        session.unsure = True  # until Drive answers, it may have any part of the bytes
        reply = self._session_put(f"uploading attachment {name!r} to Drive", session.uri,
                                  data[kept:] if kept else data,
                                  {"Content-Type": session.media_type,
                                   "Content-Range": f"bytes {kept}-{size - 1}/{size}"})
        if reply.status_code in (200, 201):
            return reply.json()
        # 308 to all the bytes: Drive kept only part of them; its status says how much.
        raise UncertainWrite(f"Drive kept part of the bytes ({reply.status_code})")

    def _session_put(self, what: str, uri: str, data: bytes, headers: dict, *, safe: bool = False):
        # The session URI is sent as Google gave it (params=[]: no prettyPrint added); its
        # 308 is an answer, not a redirect; a status query may be sent again as it is.
        return self._response(what, "put", uri, params=[], data=data, headers=headers, uncertain=not safe,
                              session=True, safe=safe, redirects=False)

    # ------------------------------------------------------------------ Google's answers

    def _call(self, what: str, method: str, url: str, **kwargs) -> dict:
        return self._response(what, method, url, **kwargs).json()

    def _response(self, what: str, method: str, url: str, *, refused: str = "", uncertain: bool = False,
                  session: bool = False, **kwargs):
        assert self.client is not None
        try:
            return self.client.request(method, url, **kwargs)
        except UncertainWrite:
            if uncertain:
                raise
            raise AttachmentsUnavailable(f"{what}: Google Drive did not answer; run again (no mail was "
                                         "filed)") from None
        except TrackerError:  # no answer after the retries
            raise AttachmentsUnavailable(f"{what}: Google Drive did not answer after retries; check the "
                                         "network and run again (no mail was filed)") from None
        except APIError as exc:
            if session and exc.response.status_code in (404, 410):
                raise _SessionGone(f"the upload session answered {exc.response.status_code}") from None
            raise self._refusal(exc, what, refused) from None

    def _refusal(self, exc: APIError, what: str, refused: str) -> Exception:
        code = exc.response.status_code
        error = exc.error if isinstance(exc.error, dict) else {}
        reasons = error_reasons(exc)
        message = str(error.get("message") or "no details")
        if code >= 500 or code == 429 or reasons & THROTTLED:
            return AttachmentsUnavailable(f"{what}: Google Drive answered {code} ({message}) after retries; "
                                          "run again later (no mail was filed)")
        if "storageQuotaExceeded" in reasons:
            return AttachmentsRefused(
                f"{what}: the Drive storage of {self.identity} is full (a service account has none of its "
                f"own): set {SETTING} to a folder in a shared drive, shared with it as Content manager, "
                "or free space (no mail was filed)")
        if code in (403, 404):
            return AttachmentsRefused(refused or (
                f"{what}: Google Drive refused {self.identity} ({code}: {message}); share the attachments "
                f"folder with it as Editor, or set {SETTING} to one it may add files to (no mail was filed)"))
        return AttachmentsRefused(f"{what}: Google Drive answered {code}: {message} (no mail was filed)")
