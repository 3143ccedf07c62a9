"""The plumbing every platform fake shares: a threaded HTTP server on 127.0.0.1,
a request log, fault injection and the cursor encoding the fakes page with."""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass
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


@dataclass
class _Fault:
    fragment: str
    answer: Answer | str
    times: int
    after: int
    seen: int = 0


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
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # life cycle ---------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small answers, answered at once

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                fake._serve(self)

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
    ) -> None:
        """Answer ``status``/``body`` to requests whose path contains ``fragment``."""
        self._faults.append(_Fault(fragment, (status, body, headers or {}), times, after))

    def drop(self, fragment: str, *, times: int = 1, after: int = 0) -> None:
        """Close the connection, unanswered, on requests whose path contains ``fragment``."""
        self._faults.append(_Fault(fragment, DROP, times, after))

    def paths(self, fragment: str = "") -> list[str]:
        return [r.path for r in self.requests if fragment in r.path]

    # serving --------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        path = parts.path
        with self._lock:
            self.requests.append(LoggedRequest("GET", path, params, headers))
            answer = self._fault_for(path)
        if answer == DROP:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if answer is None:
            if not path.startswith(self.prefix):
                answer = (404, {"error": "not found"}, {})
            else:
                with self._lock:
                    answer = self.handle(path[len(self.prefix) :], params, headers)
        status, body, extra = answer
        try:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            # Half a surrogate pair (a cut emoji) is no UTF-8: the platforms send it
            # as a JSON escape, "\ud800", and so does the fake.
            data = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _fault_for(self, path: str) -> Answer | str | None:
        for fault in self._faults:
            if fault.fragment in path and fault.times > 0:
                fault.seen += 1
                if fault.seen > fault.after:
                    fault.times -= 1
                    return fault.answer
        return None

    def handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def _limit(self, params: dict[str, str], key: str, default: int) -> int:
        try:
            asked = int(params.get(key, default))
        except ValueError:
            asked = default
        return max(1, min(asked, self.page_size))


def bearer_token(headers: dict[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else ""
