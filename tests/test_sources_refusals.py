"""How the platforms refuse today, as their references and recorded payloads show
(platform-apis.md, "Known payload details"): Graph's throttling marked transient,
YouTube's API_KEY_INVALID; each met as the other sources' expired tokens are."""

from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner

import cli
from sheets_sync import jobs
from sheets_sync.errors import AuthError, RateLimited
from sheets_sync.sources.registry import load_platform_sources
from sheets_sync.testing.fake_platforms.graph import graph_error, graph_throttled
from sheets_sync.testing.fake_platforms.youtube import youtube_error
from tests import test_sources_facebook, test_sources_instagram, test_sources_x, test_sources_youtube
from tests.helpers import init_tracker
from tests.platform_fixtures import Clock, make_source
from tests.test_sources_secrets import CONFIG


def test_graph_code_4_marked_transient_is_throttling_not_retried(fake_graph, sleeps):
    test_sources_facebook.seed(fake_graph)
    status, body, headers = graph_throttled(code=4, minutes=12)
    assert status == 403 and body["error"]["is_transient"] is True  # as Graph sends it
    fake_graph.fail("/published_posts", status, body, headers, times=9)
    with pytest.raises(RateLimited, match="about 12 minutes") as info:
        make_source("facebook", fake_graph, sleeps).fetch(None)
    assert "the next run resumes from the checkpoint" in str(info.value)
    assert sleeps == [] and len(fake_graph.paths("/published_posts")) == 1


@pytest.mark.parametrize("code", [80003, 80009])
def test_every_graph_business_use_case_code_is_throttling(fake_graph, sleeps, code):
    test_sources_facebook.seed(fake_graph)
    fake_graph.fail("/published_posts", *graph_throttled(code=code, minutes=5))
    with pytest.raises(RateLimited, match="about 5 minutes"):
        make_source("facebook", fake_graph, sleeps).fetch(None)
    assert sleeps == []


def test_another_error_marked_transient_is_still_retried(fake_graph, sleeps):
    test_sources_facebook.seed(fake_graph)
    fake_graph.fail("/comments", *graph_error(100, "Please retry", is_transient=True), times=2)
    assert len(make_source("facebook", fake_graph, sleeps).fetch(None).comments) == 7
    assert len(sleeps) == 2


def test_youtube_api_key_invalid_is_a_bad_key_not_a_bad_channel(fake_youtube, sleeps):
    test_sources_youtube.seed(fake_youtube)
    fake_youtube.api_key = "the-new-key"  # the one in the variable is now stale
    with pytest.raises(AuthError) as info:
        make_source("youtube", fake_youtube, sleeps, secret=_key("the-old-key")).fetch(None)
    said = str(info.value)
    assert "SHEETS_SYNC_YOUTUBE_API_KEY" in said and "API_KEY_INVALID" in said
    assert "create a new API key" in said
    assert "channel_id" not in said and "sources.yaml" not in said
    assert "the-old-key" not in said and sleeps == []


def test_youtube_expired_key_detail_is_a_bad_key_too(fake_youtube, sleeps):
    test_sources_youtube.seed(fake_youtube)
    expired = youtube_error(400, "badRequest", "API key expired. Please renew the API key.", "global",
                            grpc_status="INVALID_ARGUMENT", detail_reason="API_KEY_INVALID")
    fake_youtube.fail("/channels", *expired)
    with pytest.raises(AuthError, match="SHEETS_SYNC_YOUTUBE_API_KEY"):
        make_source("youtube", fake_youtube, sleeps).fetch(None)


def test_youtube_old_key_invalid_reason_still_names_the_key(fake_youtube):
    test_sources_youtube.seed(fake_youtube)
    fake_youtube.fail("/channels", *youtube_error(400, "keyInvalid", "API key not valid.", "global"))
    with pytest.raises(AuthError, match="SHEETS_SYNC_YOUTUBE_API_KEY"):
        make_source("youtube", fake_youtube).fetch(None)


def _key(value: str):
    from sheets_sync.sources.tokens import Secret

    return Secret("SHEETS_SYNC_YOUTUBE_API_KEY", value)


def test_sync_all_with_a_stale_youtube_key_writes_the_others_and_exits_5(
    tmp_path, fake_graph, fake_youtube, fake_x, sleeps, roster_file, monkeypatch
):
    test_sources_facebook.seed(fake_graph)
    test_sources_instagram.seed(fake_graph)
    test_sources_youtube.seed(fake_youtube)
    test_sources_x.seed(fake_x)
    config = tmp_path / "sources.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {
        "SHEETS_SYNC_SOURCES_CONFIG": str(config),
        "SHEETS_SYNC_GRAPH_URL": fake_graph.url,
        "SHEETS_SYNC_YOUTUBE_URL": fake_youtube.url,
        "SHEETS_SYNC_X_URL": fake_x.url,
        "SHEETS_SYNC_FACEBOOK_TOKEN": fake_graph.token,
        "SHEETS_SYNC_INSTAGRAM_TOKEN": fake_graph.token,
        "SHEETS_SYNC_YOUTUBE_API_KEY": "expired-key",
        "SHEETS_SYNC_X_BEARER_TOKEN": fake_x.token,
    }
    monkeypatch.setattr(
        jobs, "open_sources",
        lambda spec: load_platform_sources(["all"], environ=env, sleep=sleeps.append, clock=Clock()),
    )
    tracker = tmp_path / "tracker.xlsx"
    init_tracker(tracker, roster_file)
    result = CliRunner().invoke(
        cli.main, ["sync", "--source", "all", "--tracker", str(tracker), "--roster", str(roster_file)],
        catch_exceptions=False,
    )
    assert result.exit_code == 5, result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("Error: youtube: "), errors
    assert "SHEETS_SYNC_YOUTUBE_API_KEY" in errors[0] and "channel_id" not in errors[0]
    assert "expired-key" not in result.output + result.stderr and "Traceback" not in result.stderr
    rows = list(openpyxl.load_workbook(tracker)["Comments"].iter_rows(values_only=True))
    ids = {str(cell) for row in rows[1:] for cell in row if cell}
    assert {"1_c1", "3_c1", "c1", "r1"} <= ids  # Facebook's and Instagram's comments are in
    assert not {"T6", "R9"} & ids  # and none of YouTube's


def test_an_instagram_throttle_is_said_in_instagram_s_name(fake_graph, sleeps):
    """Instagram's answers come through the Graph API too; the message said "Facebook"."""
    test_sources_instagram.seed(fake_graph)
    fake_graph.fail("/media", *graph_throttled(code=4, minutes=7), times=9)
    with pytest.raises(RateLimited, match="Instagram expects access back in about 7 minutes"):
        make_source("instagram", fake_graph, sleeps).fetch(None)
