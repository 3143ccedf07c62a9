"""``sources check`` reports every configured source, by reading what a sync reads."""

from __future__ import annotations

from click.testing import CliRunner

from sheets_sync import cli
from sheets_sync.sources.registry import check_sources
from tests.platform_fixtures import CHANNEL_ID, at

CONFIG = """
facebook:
  page_id: 111
instagram:
  ig_user_id: "17841400000000001"
youtube:
  channel_id: UCcorporation000000000000
"""


def test_one_source_s_problem_does_not_hide_the_others(tmp_path, fake_graph, fake_youtube):
    config = tmp_path / "sources.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    fake_youtube.add_channel(CHANNEL_ID, "Pune Municipal Corporation")
    fake_youtube.add_video(CHANNEL_ID, "vid1", at(days=-2), "नालेसफाई")
    fake_youtube.add_comment("vid1", "T1", at(hours=-1), "कधी?")
    env = {"SHEETS_SYNC_GRAPH_URL": fake_graph.url, "SHEETS_SYNC_YOUTUBE_URL": fake_youtube.url,
           "SHEETS_SYNC_INSTAGRAM_TOKEN": "not-a-token-the-fake-knows",
           "SHEETS_SYNC_YOUTUBE_API_KEY": fake_youtube.api_key}
    checks = check_sources("all", config_path=str(config), environ=env)
    assert [(c.source, c.ok) for c in checks] == [
        ("facebook", False), ("instagram", False), ("youtube", True)]
    assert "SHEETS_SYNC_FACEBOOK_TOKEN" in checks[0].detail  # no token: the variable named
    assert "SHEETS_SYNC_INSTAGRAM_TOKEN" in checks[1].detail  # refused: the variable named
    assert "uploads and comments readable" in checks[2].detail


def test_the_command_lists_each_source_and_exits_5(tmp_path, fake_graph, fake_youtube, monkeypatch):
    config = tmp_path / "sources.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    fake_youtube.add_channel(CHANNEL_ID, "Pune Municipal Corporation")
    for name, value in {"SHEETS_SYNC_SOURCES_CONFIG": str(config),
                        "SHEETS_SYNC_GRAPH_URL": fake_graph.url,
                        "SHEETS_SYNC_YOUTUBE_URL": fake_youtube.url,
                        "SHEETS_SYNC_YOUTUBE_API_KEY": fake_youtube.api_key}.items():
        monkeypatch.setenv(name, value)
    for name in ("SHEETS_SYNC_FACEBOOK_TOKEN", "SHEETS_SYNC_INSTAGRAM_TOKEN", "SHEETS_SYNC_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli.main, ["sources", "check"])
    lines = result.output.splitlines()
    assert result.exit_code == 5, result.output
    assert [line.split(":")[0] for line in lines] == ["FAIL facebook", "FAIL instagram", "ok   youtube"]
    assert "(no videos yet)" in lines[2]
