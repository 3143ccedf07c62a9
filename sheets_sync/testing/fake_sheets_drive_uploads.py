"""Uploads into Drive as the fake serves them (the mail job's attachments on the Google
backend), in the two shapes Drive v3 documents for a file with metadata:

* ``POST /upload/drive/v3/files?uploadType=multipart``: a ``multipart/related`` body of
  the JSON metadata then the media, one request (Google documents it for files of 5 MB
  or less); the reply is Drive's default ``{kind, id, name, mimeType}`` unless ``fields``
  asks for more;
* ``POST /upload/drive/v3/files?uploadType=resumable``: the JSON metadata (``name``,
  ``parents``, ``appProperties``, ``mimeType``; may be empty) with ``X-Upload-Content-Type``
  and ``X-Upload-Content-Length`` (optional). The folder and the storage are checked
  now. The answer is 200 with no body and ``Location``, the session URI
  ``https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable&upload_id=…``:
  Google's host, as Google answers, which the client's endpoint adapter brings here;
* ``PUT <session URI>`` with bytes: all of them (no ``Content-Range``, or ``bytes
  0-<n-1>/<n>``), or a chunk (``bytes <a>-<b>/<n>`` or ``bytes <a>-<b>/*``) starting
  where the kept bytes end, every chunk but the last a multiple of 256 KiB. The last
  one makes the file (``appProperties``, ``md5Checksum``, as multipart does) and
  answers 200 with it, masked by the ``fields`` the POST gave; before that, "308 Resume
  Incomplete" with ``Range: bytes=0-<last kept>`` (no ``Range`` when nothing is kept);
* ``PUT <session URI>`` with ``Content-Range: bytes */<n>`` and no body: the status,
  308 as above, or 200 with the file once it is made (a session makes one file at most,
  however often its last bytes are sent). A session unknown or expired: 404.

Knobs: :meth:`DriveUploadsMixin.expire_upload_sessions` (every session answers 404, as
after Google's week), :meth:`DriveUploadsMixin.cut_next_upload` (the next bytes ``PUT``
keeps only its first bytes, rounded down to 256 KiB, and the connection drops: a network
cut in the middle of a large upload), ``fill_drive_storage`` (403 ``storageQuotaExceeded``
at the session's start and at its last bytes). The server's ``fail_next``, ``drop_next``
and ``throttle_next`` reach either request by method (``POST``/``PUT``) and the path
``^/upload/drive/v3/files$``. Left out: ``uploadType=media``, updating a file's content,
cancelling a session (``DELETE``), and the chunk upload's checksum headers.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field

from .fake_sheets_drive import DriveError, Reply
from .fake_sheets_drive_files import QUOTA_MESSAGE, DriveFile, _masked, _new_id, _props
from .fake_sheets_knobs import Drop

#: Google's session URIs are on its upload host, whatever address the fake listens on.
UPLOAD_URL = "https://www.googleapis.com/upload/drive/v3/files"
#: Every chunk but the last is a multiple of this (Drive's rule for resumable uploads).
CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes (?:\*|(\d+)-(\d+))/(\*|\d+)$")


@dataclass
class UploadSession:
    id: str
    owner: str
    meta: dict
    fields: str  # the POST's ``fields``: the mask of the file resource the session answers with
    size: int | None  # X-Upload-Content-Length, when given
    media_type: str
    received: bytearray = field(default_factory=bytearray)
    file_id: str | None = None  # set once the last bytes made the file


class DriveUploadsMixin:
    """Multipart and resumable uploads of :class:`~.fake_sheets.FakeSheetsServer`."""

    _lock: object

    @property
    def upload_sessions(self) -> dict[str, UploadSession]:
        """Every resumable session still open or done, by upload id (for assertions)."""
        if not hasattr(self, "_upload_sessions"):
            self._upload_sessions: dict[str, UploadSession] = {}
            self._cut_next: int | None = None
        return self._upload_sessions

    def reset_uploads(self) -> None:
        self.upload_sessions.clear()
        self._cut_next = None

    def expire_upload_sessions(self) -> None:
        """Forget every session, as Google does a week after it began: its URI answers 404."""
        with self._lock:
            self.upload_sessions.clear()

    def cut_next_upload(self, keep: int) -> None:
        """The next bytes ``PUT`` keeps its first ``keep`` bytes (rounded down to 256 KiB, and
        less than all of them) and its connection is dropped without an answer."""
        self.upload_sessions  # noqa: B018 - made on first use
        self._cut_next = keep

    # ------------------------------------------------------------------ POST

    def _h_drive_upload(self, who: str, g: dict, q: dict, body: dict) -> dict | Reply:
        kind = (q.get("uploadType") or [""])[0]
        if kind == "multipart":
            return self._multipart_upload(who, q, body)
        if kind == "resumable":
            return self._start_session(who, q, body)
        raise DriveError(400, "The fake serves uploadType=multipart and uploadType=resumable only.",
                         "badRequest")

    def _multipart_upload(self, who: str, q: dict, body: dict) -> dict:
        meta, media, media_type = _multipart(body.get("_raw", b""), body.get("_content_type", ""))
        with self._lock:
            return _masked(self._new_file(who, meta, media_type, media).resource("owner"), q, default=True)

    def _new_file(self, who: str, meta: dict, media_type: str, data: bytes) -> DriveFile:
        if getattr(self, "_storage_full", False):
            raise DriveError(403, QUOTA_MESSAGE, "storageQuotaExceeded")
        f = DriveFile(_new_id(), meta.get("name") or "Untitled", meta.get("mimeType") or media_type
                      or "application/octet-stream", who, app_properties=_props(meta), data=bytes(data))
        f.parents = self._parents(meta, who)  # type: ignore[attr-defined]
        self.drive_files[f.id] = f  # type: ignore[attr-defined]
        return f

    def _start_session(self, who: str, q: dict, body: dict) -> Reply:
        raw, headers = body.get("_raw", b""), body.get("_headers", {})
        try:
            meta = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            raise DriveError(400, "Invalid JSON payload received.", "parseError") from None
        if not isinstance(meta, dict):
            raise DriveError(400, "Invalid JSON payload received.", "parseError")
        size_text = headers.get("x-upload-content-length")
        if size_text is not None and not size_text.isdigit():
            raise DriveError(400, f"Invalid X-Upload-Content-Length: {size_text!r}.", "badContent")
        with self._lock:
            self._parents(meta, who)  # type: ignore[attr-defined] - a folder it may not add to: refused now
            if getattr(self, "_storage_full", False):
                raise DriveError(403, QUOTA_MESSAGE, "storageQuotaExceeded")
            session = UploadSession(secrets.token_urlsafe(24), who, meta, (q.get("fields") or [""])[0],
                                    int(size_text) if size_text is not None else None,
                                    headers.get("x-upload-content-type") or "")
            self.upload_sessions[session.id] = session
        uri = f"{UPLOAD_URL}?uploadType=resumable&upload_id={session.id}"
        return Reply(200, None, {"Location": uri, "X-GUploader-UploadID": session.id})

    # ------------------------------------------------------------------ PUT

    def _h_drive_upload_put(self, who: str, g: dict, q: dict, body: dict) -> dict | Reply:
        raw, headers = body.get("_raw", b""), body.get("_headers", {})
        with self._lock:
            session = self.upload_sessions.get((q.get("upload_id") or [""])[0])
            if session is None:
                raise DriveError(404, "Not Found", "notFound")  # never made, or expired
            if session.file_id is not None:
                return Reply(200, self._session_file(session))
            span = _content_range(headers.get("content-range"), len(raw))
            if span is None:  # the status query
                if raw:
                    raise DriveError(400, "A status query (bytes */<size>) has no body.", "badContent")
                return Reply(308, None, _kept(session))
            start, end, total = span
            if start != len(session.received):
                raise DriveError(400, f"The bytes start at {start}; the session has kept "
                                 f"{len(session.received)}: ask its status first.", "badContent")
            if session.size is not None and total not in (None, session.size):
                raise DriveError(400, f"The size {total} is not the {session.size} the session began with.",
                                 "badContent")
            last = total is not None and end + 1 == total
            if not last and len(raw) % CHUNK:
                raise DriveError(400, "A chunk but the last must be a multiple of 256 KiB.", "badContent")
            if self._cut_next is not None:
                keep = min(self._cut_next, max(len(raw) - 1, 0)) // CHUNK * CHUNK
                self._cut_next = None
                session.received += raw[:keep]
                raise Drop()  # the network cut: part of the bytes arrived, no answer went back
            session.received += raw
            if not last:
                return Reply(308, None, _kept(session))
            try:
                made = self._new_file(session.owner, session.meta, session.media_type, session.received)
            except DriveError:
                del session.received[start:]  # refused: the last bytes may be sent again
                raise
            session.file_id = made.id
            return Reply(200, self._session_file(session))

    def _session_file(self, session: UploadSession) -> dict:
        f = self.drive_files[session.file_id]  # type: ignore[attr-defined]
        return _masked(f.resource("owner"), {"fields": [session.fields]}, default=True)


def _content_range(header: str | None, length: int) -> tuple[int, int, int | None] | None:
    """(first byte, last byte, total or None) of a bytes ``PUT``; None for a status query."""
    if header is None:
        return 0, length - 1, length  # all the bytes in one request
    found = _RANGE.match(header.strip())
    if not found:
        raise DriveError(400, f"Failed to parse Content-Range header: {header!r}.", "badContent")
    first, last, total = found.groups()
    if first is None:
        return None
    if int(last) - int(first) + 1 != length:
        raise DriveError(400, f"Content-Range {header!r} does not match the {length} bytes sent.",
                         "badContent")
    return int(first), int(last), None if total == "*" else int(total)


def _kept(session: UploadSession) -> dict[str, str]:
    return {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}


def _multipart(raw: bytes, content_type: str) -> tuple[dict, bytes, str]:
    found = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not content_type.lower().startswith("multipart/related") or not found:
        raise DriveError(400, "Content-Type must be multipart/related with a boundary.", "badContent")
    delimiter = b"--" + found.group(1).encode()
    parts = []
    for chunk in raw.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        parts.append((head.decode("latin-1").lower(), content.removesuffix(b"\r\n")))
    if len(parts) != 2 or "application/json" not in parts[0][0]:
        raise DriveError(400, "A multipart upload is the metadata (JSON) then the media.", "badContent")
    try:
        meta = json.loads(parts[0][1].decode("utf-8"))
    except ValueError:
        raise DriveError(400, "Invalid JSON payload received.", "parseError") from None
    media_type = re.search(r"content-type:\s*([^\r\n;]+)", parts[1][0])
    return meta, parts[1][1], media_type.group(1).strip() if media_type else ""
