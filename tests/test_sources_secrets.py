"""End to end through the factory: every platform, good and bad tokens, and no token ever shown."""

from __future__ import annotations

import logging

import pytest

from sheets_sync.errors import AuthError, SheetsSyncError
from sheets_sync.sources.registry import load_platform_sources
from sheets_sync.testing.fake_platforms.graph import graph_error
from sheets_sync.testing.fake_platforms.youtube import youtube_error
from tests import test_sources_facebook, test_sources_instagram, test_sources_x, test_sources_youtube
from tests.platform_fixtures import Clock

CONFIG = """
facebook: {page_id: "111"}
instagram: {ig_user_id: "17841400000000001"}
youtube: {channel_id: UCcorporation000000000000}
x: {user_id: "3001960000", lookback_days: 6}
"""


@pytest.fixture
def everything(tmp_path, fake_graph, fake_youtube, fake_x):
    test_sources_facebook.seed(fake_graph)
    test_sources_instagram.seed(fake_graph)
    test_sources_youtube.seed(fake_youtube)
    test_sources_x.seed(fake_x)
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {
        "SHEETS_SYNC_SOURCES_CONFIG": str(path),
        "SHEETS_SYNC_GRAPH_URL": fake_graph.url,
        "SHEETS_SYNC_YOUTUBE_URL": fake_youtube.url,
        "SHEETS_SYNC_X_URL": fake_x.url,
        "SHEETS_SYNC_FACEBOOK_TOKEN": fake_graph.token,
        "SHEETS_SYNC_INSTAGRAM_TOKEN": fake_graph.token,
        "SHEETS_SYNC_YOUTUBE_API_KEY": fake_youtube.api_key,
        "SHEETS_SYNC_X_BEARER_TOKEN": fake_x.token,
    }
    return env, (fake_graph, fake_youtube, fake_x)


def sources(env, sleeps):
    return load_platform_sources(["all"], environ=env, sleep=sleeps.append, clock=Clock())


def test_all_four_sources_read_their_fakes(everything, sleeps):
    env, _ = everything
    counts = {s.name: len(s.fetch(None).comments) for s in sources(env, sleeps)}
    assert counts == {"facebook": 7, "instagram": 8, "youtube": 11, "x": 6}
    assert all(s.check().ok for s in sources(env, sleeps))


def test_no_token_in_any_error_or_log_record(everything, sleeps, caplog):
    env, (graph, youtube, x) = everything
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    secrets = [graph.token, youtube.api_key, x.token]

    # Server errors that echo the token back, until the retries give up ...
    graph.fail("/comments", *graph_error(2, f"temporary, token {graph.token}", status=500), times=99)
    youtube.fail("/channels", *youtube_error(500, "backendError", f"key={youtube.api_key}"), times=9)
    x.drop("/2/users/", times=9)
    for source in sources(env, sleeps):
        texts.append(repr(source))
        with pytest.raises(SheetsSyncError) as info:
            source.fetch(None)
        texts += [str(info.value), repr(info.value)]
        texts.append(source.check().detail)

    # ... and tokens every platform rejects.
    graph.token, youtube.api_key, x.token = "new-graph", "new-key", "new-bearer"
    for source in sources(env, sleeps):
        with pytest.raises(AuthError) as info:
            source.fetch(None)
        texts += [str(info.value), repr(info.value)]
        texts.append(source.check().detail)

    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    assert len(caplog.records) > 20
    leaks = [t for t in texts for secret in secrets if secret in t]
    assert leaks == []
    assert any("token ***" in t for t in texts) and any("key=***" in t for t in texts)
