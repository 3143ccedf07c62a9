"""Local HTTP fakes of the Graph API (Facebook, Instagram), YouTube Data API v3 and X API v2.

Each fake is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (a free port)
that serves the documented shapes — paging, replies, hidden comments, the
platforms' error bodies — from data a test puts in through plain methods::

    with FakeGraph(page_size=2) as graph:
        graph.add_page("111", "PMC")
        graph.add_post("111", "111_1", at(hours=-5), "Water cut on Monday")
        graph.add_comment("111_1", "1_c1", at(hours=-4), "Which wards?", author=("9", "Asha"))
        graph.fail("/111_1/comments", *graph_error(4, "Application request limit reached"))
        source = FacebookSource(config, Secret("SHEETS_SYNC_FACEBOOK_TOKEN", graph.token),
                                base_url=graph.url)

Every request lands in ``fake.requests`` (method, path, query). Faults are
injected per path fragment: ``fail(...)`` answers with a given status/body,
``drop(...)`` closes the connection without an answer; ``after=n`` lets the
first n matching requests through (throttling in the middle of paging),
``times`` says how often the fault fires.

One module per API: ``server`` (the shared plumbing), ``graph``, ``youtube``, ``x``.
"""

from .graph import AFTER_CURSOR_MESSAGE, FakeGraph, graph_error, graph_throttled, graph_time
from .server import DROP, Answer, FakeServer, LoggedRequest
from .x import X_UNAUTHORIZED, FakeX, x_not_enrolled, x_problem, x_rate_limited, x_time
from .youtube import API_KEY_INVALID, QUOTA_EXCEEDED, FakeYouTube, youtube_error, youtube_time

__all__ = [
    "AFTER_CURSOR_MESSAGE",
    "API_KEY_INVALID",
    "DROP",
    "QUOTA_EXCEEDED",
    "X_UNAUTHORIZED",
    "Answer",
    "FakeGraph",
    "FakeServer",
    "FakeX",
    "FakeYouTube",
    "LoggedRequest",
    "graph_error",
    "graph_throttled",
    "graph_time",
    "x_not_enrolled",
    "x_problem",
    "x_rate_limited",
    "x_time",
    "youtube_error",
    "youtube_time",
]
