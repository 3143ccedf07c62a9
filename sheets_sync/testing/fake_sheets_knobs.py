"""The local Sheets fake's test knobs: quotas, latency, faults and request hooks.

:class:`Knobs` is the part of :class:`~.fake_sheets.FakeSheetsServer` that makes the
fake misbehave on purpose, the way Google does on a bad day:

* quotas per identity over a sliding window, answering Google's 429 body;
* the Sheets API not enabled in the caller's Cloud project (403 ``SERVICE_DISABLED``);
* a fixed latency before every API request;
* faults at an exact request: a 5xx or a dropped connection, ``before`` the request
  is applied (nothing happened) or ``after`` (it happened; the client does not know),
  matched by method and path, after letting ``skip`` matching requests through;
* Drive's throttling at an exact request (:meth:`Knobs.throttle_next`): 403
  ``userRateLimitExceeded``/``rateLimitExceeded`` or 429, never applied;
* ``on_request`` hooks called before and after each API request, through which the
  simulated people act in the middle of the job's work.

Left out: Google's per-project quota (only the per-user one is modelled) and slow or
partial responses (a fault either answers at once or drops the connection).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fake_sheets_drive import throttle_error
from .fake_sheets_model import ApiError

_SERVER_ERRORS = {
    500: ("Internal error encountered.", "INTERNAL"),
    502: ("Bad Gateway", "UNAVAILABLE"),
    503: ("The service is currently unavailable.", "UNAVAILABLE"),
    504: ("The request timed out. Please try again.", "DEADLINE_EXCEEDED"),
}


def quota_error(kind: str, project_number: int) -> ApiError:
    word = "Read" if kind == "read" else "Write"
    return ApiError(
        429,
        f"Quota exceeded for quota metric '{word} requests' and limit '{word} requests per "
        f"minute per user' of service 'sheets.googleapis.com' for consumer "
        f"'project_number:{project_number}'.",
        details=[{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "sheets.googleapis.com",
                "quota_metric": f"sheets.googleapis.com/{word.lower()}_requests",
                "quota_limit": f"{word}RequestsPerMinutePerUser",
            },
        }])


def service_disabled_error(project_number: int) -> ApiError:
    """Google's answer on a Cloud project where the Sheets API is not enabled."""
    url = f"https://console.developers.google.com/apis/api/sheets.googleapis.com/overview?project={project_number}"
    message = (f"Google Sheets API has not been used in project {project_number} before or it is "
               f"disabled. Enable it by visiting {url} then retry. If you enabled this API "
               "recently, wait a few minutes for the action to propagate to our systems and retry.")
    return ApiError(403, message, "PERMISSION_DENIED", details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED",
         "domain": "googleapis.com",
         "metadata": {"consumer": f"projects/{project_number}", "service": "sheets.googleapis.com",
                      "activationUrl": url, "serviceTitle": "Google Sheets API",
                      "containerInfo": str(project_number)}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
         "message": message},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Google developers console API activation", "url": url}]},
    ])


@dataclass
class RequestInfo:
    """What an ``on_request`` hook sees."""

    method: str
    path: str
    query: dict
    identity: str | None
    spreadsheet_id: str | None
    kind: str
    body: Any = None
    status: int | None = None  # Set for the "after" phase.


@dataclass
class _Fault:
    count: int
    status: int | None  # None = drop the connection
    method: str | None = None
    path: str | None = None
    when: str = "before"  # "before", "after", or "late" (applied later, answer dropped now)
    skip: int = 0  # matching requests to let through first (to hit the Nth part of a write)
    later: int = 1  # "late": applied just before the this-many-th API request after it
    reason: str | None = None  # Drive's throttling reason: its usageLimits body, not a 5xx

    def matches(self, method: str, path: str) -> bool:
        return (self.count > 0 and (self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))


@dataclass
class _Config:
    read_per_minute: int | None = None
    write_per_minute: int | None = None
    quota_window: float = 60.0
    latency: float = 0.0
    faults: list = field(default_factory=list)
    api_disabled: bool = False  # the key's Cloud project has not enabled the Sheets API


class Drop(Exception):
    """Close the socket without answering."""


class Knobs:
    """Mixed into the server, which provides ``_lock`` (an RLock)."""

    _lock: Any

    def __init__(self, project_number: int):
        self.project_number = project_number
        self._hooks: list[Callable[[RequestInfo, str], None]] = []
        self.hook_errors: list[Exception] = []  # exceptions raised by on_request hooks
        self._late: list[list] = []  # [requests to wait, apply] of requests that land late
        self._windows: dict[tuple[str, str], deque] = {}
        self.config = _Config()

    def reset_knobs(self) -> None:
        self._hooks.clear()
        self.hook_errors.clear()
        self._windows.clear()
        self.config = _Config()
        self._late.clear()

    def set_quota(self, read_per_minute: int | None = None, write_per_minute: int | None = None,
                  window_seconds: float = 60.0) -> None:
        """Per-identity limits (None = unlimited); over the limit answers Google's 429."""
        with self._lock:
            self.config.read_per_minute = read_per_minute
            self.config.write_per_minute = write_per_minute
            self.config.quota_window = window_seconds
            self._windows.clear()

    def set_latency(self, seconds: float) -> None:
        self.config.latency = seconds

    def disable_api(self, disabled: bool = True) -> None:
        """Answer every API request as Google does when the key's Cloud project has not
        enabled the Sheets API (403 PERMISSION_DENIED, reason SERVICE_DISABLED)."""
        self.config.api_disabled = disabled

    def fail_next(self, count: int = 1, status: int = 503, method: str | None = None,
                  path: str | None = None, when: str = "before", skip: int = 0) -> None:
        """Answer the next ``count`` matching API requests with ``status`` (Google's body).

        ``when="after"`` applies the request first: the write happened, the client sees
        an error.  ``path`` is a regex searched in the decoded path.  ``skip`` lets that
        many matching requests through first.
        """
        with self._lock:
            self.config.faults.append(_Fault(count, status, method, path, when, skip))

    def drop_next(self, count: int = 1, method: str | None = None, path: str | None = None,
                  when: str = "before", skip: int = 0) -> None:
        """Close the connection without a response for the next ``count`` matching requests
        (``when="after"``: after applying the request; ``skip`` as for :meth:`fail_next`)."""
        with self._lock:
            self.config.faults.append(_Fault(count, None, method, path, when, skip))

    def throttle_next(self, count: int = 1, status: int = 403, reason: str = "userRateLimitExceeded",
                      method: str | None = None, path: str | None = None, skip: int = 0) -> None:
        """Answer the next ``count`` matching requests as Drive does a caller over its rate
        limit (403 or 429, ``reason`` ``userRateLimitExceeded`` or ``rateLimitExceeded``),
        before applying them, as Google refuses a request over quota."""
        with self._lock:
            self.config.faults.append(_Fault(count, status, method, path, "before", skip, reason=reason))

    def late_next(self, count: int = 1, method: str | None = None, path: str | None = None,
                  after: int = 1, skip: int = 0) -> None:
        """The next ``count`` matching requests land late: the connection is dropped at once
        (the client cannot tell whether it was applied), and the request is applied just
        before the ``after``-th API request that follows it (from anyone): Google applying a
        request that timed out, seconds later."""
        with self._lock:
            self.config.faults.append(_Fault(count, None, method, path, "late", skip, after))

    def defer(self, method: str, path: str, apply: Callable[[], Any]) -> bool:
        """If a "late" fault matches, queue ``apply`` and say so (the caller drops the answer)."""
        with self._lock:
            for fault in self.config.faults:
                if fault.when == "late" and fault.matches(method, path):
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    self._late.append([fault.later, apply])
                    self.config.faults = [f for f in self.config.faults if f.count > 0]
                    return True
        return False

    def land_late(self) -> None:
        """Apply every request still waiting to land late, now."""
        with self._lock:
            for item in self._late:
                item[0] = 1
        self.apply_late()

    def apply_late(self) -> None:
        """Apply the late requests whose time has come (called before each API request)."""
        with self._lock:
            due = []
            for item in self._late:
                item[0] -= 1
                if item[0] <= 0:
                    due.append(item)
            self._late = [i for i in self._late if i[0] > 0]
        for _, apply in due:
            try:
                apply()
            except Exception as e:  # noqa: BLE001 - a late request Google refused: as if never sent
                self.hook_errors.append(e)

    def configure(self, settings: dict) -> None:
        """The JSON accepted by ``POST /_fake/config``.

        ``{"quotas": {"read_per_minute": 60, "write_per_minute": 60, "window_seconds": 60},
        "latency": 0.05, "faults": [{"count": 1, "status": 503, "method": "POST",
        "path": ":batchUpdate", "when": "after"}, {"count": 1, "drop": true},
        {"count": 1, "status": 403, "reason": "userRateLimitExceeded", "path": "^/upload/"}],
        "clear_faults": true, "api_disabled": false, "token_lifetime": 5, "expire_tokens": true,
        "clock_offset": 3600}``
        """
        tokens = getattr(self, "tokens", None)
        if tokens is not None and "token_lifetime" in settings:
            tokens.lifetime = float(settings["token_lifetime"])
        if tokens is not None and "clock_offset" in settings:
            tokens.clock_offset = float(settings["clock_offset"])
        if tokens is not None and settings.get("expire_tokens"):
            tokens.expire_all()
        if "quotas" in settings:
            q = settings["quotas"] or {}
            self.set_quota(q.get("read_per_minute"), q.get("write_per_minute"),
                           q.get("window_seconds", 60.0))
        if "latency" in settings:
            self.set_latency(float(settings["latency"] or 0))
        if "api_disabled" in settings:
            self.disable_api(bool(settings["api_disabled"]))
        if settings.get("clear_faults"):
            with self._lock:
                self.config.faults.clear()
        for f in settings.get("faults") or []:
            where = (f.get("method"), f.get("path"), f.get("when", "before"), f.get("skip", 0))
            if f.get("reason"):
                self.throttle_next(f.get("count", 1), f.get("status", 403), f["reason"], f.get("method"),
                                   f.get("path"), f.get("skip", 0))
            elif f.get("late"):
                self.late_next(f.get("count", 1), f.get("method"), f.get("path"), f.get("after", 1),
                               f.get("skip", 0))
            elif f.get("drop"):
                self.drop_next(f.get("count", 1), *where)
            else:
                self.fail_next(f.get("count", 1), f.get("status", 503), *where)

    def on_request(self, callback: Callable[[RequestInfo, str], None]) -> Callable[[], None]:
        """Call ``callback(info, phase)`` with phase "before"/"after" around each API request.

        The callback runs on the server thread, outside the state lock, so it may change
        spreadsheets through ``as_user`` (people editing between or during the job's
        requests).  Exceptions it raises are collected in ``hook_errors`` and do not affect
        the answer to the request.  Returns a function that removes the hook.
        """
        self._hooks.append(callback)
        return lambda: self._hooks.remove(callback) if callback in self._hooks else None

    # ------------------------------------------------------------------ used by the server

    def run_hooks(self, info: RequestInfo, phase: str) -> None:
        # A failing hook (e.g. a person's edit refused by protection) must not change the
        # answer to the job's request: keep the error for the test to inspect.
        for hook in list(self._hooks):
            try:
                hook(info, phase)
            except Exception as e:  # noqa: BLE001 - reported through hook_errors
                self.hook_errors.append(e)

    def admit(self, identity: str, kind: str) -> None:
        """The checks Google makes before looking at a request: the API is enabled for
        the caller's project, and the caller is within its quota."""
        if self.config.api_disabled:
            raise service_disabled_error(self.project_number)
        self.check_quota(identity, kind)

    def check_quota(self, identity: str, kind: str) -> None:
        limit = {"read": self.config.read_per_minute,
                 "write": self.config.write_per_minute}.get(kind)
        if limit is None:
            return
        with self._lock:
            now = time.monotonic()
            window = self._windows.setdefault((identity, kind), deque())
            while window and now - window[0] >= self.config.quota_window:
                window.popleft()
            if len(window) >= limit:
                raise quota_error(kind, self.project_number)
            window.append(now)

    def fault(self, method: str, path: str, when: str) -> None:
        """Raise the first armed fault matching this request, if any."""
        with self._lock:
            for fault in self.config.faults:
                if fault.when == when and fault.matches(method, path):
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    fault.count -= 1
                    break
            else:
                return
            self.config.faults = [f for f in self.config.faults if f.count > 0]
        if fault.status is None:
            raise Drop()
        if fault.reason:
            raise throttle_error(fault.status, fault.reason, self.project_number)
        message, status = _SERVER_ERRORS.get(fault.status, ("Injected fault.", None))
        raise ApiError(fault.status, message, status)
