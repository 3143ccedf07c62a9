"""The plumbing every platform fake shares: a threaded HTTP server on 127.0.0.1,
a request log, fault injection and the cursor encoding the fakes page with.

Writes (POST, PUT) go to :meth:`FakeServer.handle_write`. A fault set with
``accepted=True`` fires only after the platform did what was asked — the reply
exists, the client hears a 500 or nothing — which is the failure that makes a
blind retry post twice; without it the fault answers instead of the platform.
``method`` limits a fault to one HTTP method ("POST"), so a fault on a write
does not hit the reads of the same path.

:meth:`FakeServer.on` runs a test's function when a matching request arrives
(or, ``accepted=True``, once it was carried out), in the server's thread and
outside its lock: a person editing the tracker while the platform takes a reply,
or a run held in the middle of a post while a second run starts."""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, Any, dict[str, str]]

#: A fault that closes the connection without answering.
DROP = "drop"


@dataclass
class LoggedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any = None  # a write's body: parsed JSON, or the form fields


@dataclass
class _Hook:
    fragment: str
    call: Any  # (LoggedRequest) -> None
    method: str | None = None
    accepted: bool = False


@dataclass
class _Fault:
    fragment: str
    answer: Answer | str
    times: int
    after: int
    seen: int = 0
    method: str | None = None  # None: any method
    accepted: bool = False  # fire after the platform carried out the request


def page_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        return -1


class FakeServer:
    """The plumbing: a threaded server, a request log and fault injection."""

    prefix = ""  # path prefix of the API ("/v21.0")

    def __init__(self, *, page_size: int = 100) -> None:
        self.page_size = page_size
        self.requests: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._hooks: list[_Hook] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # The platform's clock for what is written (a posted reply's time); None: real time.
        self.now: datetime | None = None

    def current_time(self) -> datetime:
        return self.now or datetime.now(UTC)

    # life cycle ---------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small answers, answered at once

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                fake._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                fake._serve(self, "PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                fake._serve(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The base URL a source is configured with."""
        return self.root + self.prefix

    # faults and the log ---------------------------------------------------------

    def fail(
        self,
        fragment: str,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        after: int = 0,
        method: str | None = None,
        accepted: bool = False,
    ) -> None:
        """Answer ``status``/``body`` to requests whose path contains ``fragment``
        (``accepted``: after carrying the request out)."""
        self._faults.append(
            _Fault(fragment, (status, body, headers or {}), times, after, method=method, accepted=accepted)
        )

    def drop(
        self,
        fragment: str,
        *,
        times: int = 1,
        after: int = 0,
        method: str | None = None,
        accepted: bool = False,
    ) -> None:
        """Close the connection, unanswered, on requests whose path contains ``fragment``
        (``accepted``: after carrying the request out)."""
        self._faults.append(_Fault(fragment, DROP, times, after, method=method, accepted=accepted))

    def on(self, fragment: str, call, *, method: str | None = None, accepted: bool = False) -> None:
        """Call ``call(request)`` for each request whose path contains ``fragment``: when it
        arrives, before the platform does anything (``accepted``: after it was carried out,
        before the answer leaves). It may block (a run held mid-request)."""
        self._hooks.append(_Hook(fragment, call, method, accepted))

    def clear_faults(self) -> None:
        """No more faults or hooks (a throttle lifted, a person gone)."""
        with self._lock:
            self._faults.clear()
            self._hooks.clear()

    def writes(self, fragment: str = "") -> list[LoggedRequest]:
        """The POST/PUT/DELETE requests whose path contains ``fragment``."""
        return [r for r in self.requests if r.method != "GET" and fragment in r.path]

    def paths(self, fragment: str = "") -> list[str]:
        return [r.path for r in self.requests if fragment in r.path]

    # serving --------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body = _read_body(handler, headers) if method != "GET" else None
        path = parts.path
        logged = LoggedRequest(method, path, params, headers, body)
        with self._lock:
            self.requests.append(logged)
            fault = self._fault_for(path, method)
            hooks = [h for h in self._hooks if h.fragment in path and h.method in (None, method)]
        self._run_hooks(hooks, logged, accepted=False)
        answer: Answer | str | None = None
        if fault is not None and not fault.accepted:
            answer = fault.answer
        if answer is None:
            if not path.startswith(self.prefix):
                answer = (404, {"error": "not found"}, {})
            else:
                with self._lock:
                    answer = self._route(method, path[len(self.prefix) :], params, body, headers)
            self._run_hooks(hooks, logged, accepted=True)
            if fault is not None:
                answer = fault.answer  # carried out; the client hears the fault instead
        if answer == DROP:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        assert not isinstance(answer, str)
        self._send(handler, answer)

    @staticmethod
    def _run_hooks(hooks: list[_Hook], request: LoggedRequest, *, accepted: bool) -> None:
        for hook in hooks:
            if hook.accepted == accepted:
                hook.call(request)

    def _route(self, method: str, path: str, params: dict[str, str], body: Any,
               headers: dict[str, str]) -> Answer:
        if method == "GET":
            return self.handle(path, params, headers)
        return self.handle_write(method, path, params, body if body is not None else {}, headers)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        status, body, extra = answer
        if status == 204:
            data = b""
        else:
            try:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                # Half a surrogate pair (a cut emoji) is no UTF-8: the platforms send it
                # as a JSON escape, "\ud800", and so does the fake.
                data = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        if status != 204:
            handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _fault_for(self, path: str, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.fragment in path and fault.times > 0 and fault.method in (None, method):
                fault.seen += 1
                if fault.seen > fault.after:
                    fault.times -= 1
                    return fault
        return None

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def handle_write(self, method: str, path: str, params: dict[str, str], body: Any,
                     headers: dict[str, str]) -> Answer:
        return 405, {"error": f"{method} {path} is not served by this fake"}, {}

    def _limit(self, params: dict[str, str], key: str, default: int) -> int:
        try:
            asked = int(params.get(key, default))
        except ValueError:
            asked = default
        return max(1, min(asked, self.page_size))


def bearer_token(headers: dict[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else ""


def _read_body(handler: BaseHTTPRequestHandler, headers: dict[str, str]) -> Any:
    """A write's body: JSON when it says so, else form fields (Graph takes both)."""
    length = int(headers.get("content-length") or 0)
    raw = handler.rfile.read(length) if length else b""
    if not raw:
        return None
    text = raw.decode("utf-8")
    if "json" in headers.get("content-type", ""):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return dict(parse_qsl(text, keep_blank_values=True))
