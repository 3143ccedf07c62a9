"""sources.yaml, tokens from the environment or a secrets file, and the factory."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from sheets_sync.errors import ConfigError, SourceError
from sheets_sync.retry import RetryPolicy
from sheets_sync.sources._http import HttpClient
from sheets_sync.sources.config import PlatformConfig
from sheets_sync.sources.facebook import FacebookSource
from sheets_sync.sources.instagram import InstagramSource
from sheets_sync.sources.registry import load_platform_sources, load_sources_config
from sheets_sync.sources.tokens import Secret
from sheets_sync.sources.x import XSource
from sheets_sync.sources.youtube import YouTubeSource

ROOT = Path(__file__).resolve().parent.parent
TOKENS = {
    "SHEETS_SYNC_FACEBOOK_TOKEN": "fb-secret-value-1",
    "SHEETS_SYNC_INSTAGRAM_TOKEN": "ig-secret-value-2",
    "SHEETS_SYNC_YOUTUBE_API_KEY": "yt-secret-value-3",
    "SHEETS_SYNC_X_BEARER_TOKEN": "x-secret-value-4",
}
CONFIG = """
defaults:
  lookback_days: 10
facebook:
  page_id: 111
  department: WATER
instagram:
  ig_user_id: "17841400000000001"
  follow_posts_days: 3
youtube:
  channel_id: UCcorporation000000000000
  account: youtube:PMC
x:
  enabled: false
  user_id: "3001960000"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def load(names, config_file, environ=None):
    return load_platform_sources(names, config_path=config_file, environ=dict(environ or TOKENS))


def test_all_enabled_sources_with_their_settings(config_file):
    sources = load(None, config_file)
    assert [s.name for s in sources] == ["facebook", "instagram", "youtube"]
    assert [type(s) for s in sources] == [FacebookSource, InstagramSource, YouTubeSource]
    facebook, instagram, youtube = sources
    assert facebook.config == PlatformConfig(
        "facebook", "111", lookback_days=10, follow_posts_days=14, overlap_minutes=120, department="WATER"
    )
    assert facebook.config.account_label == "facebook:111"
    assert instagram.config.follow_posts_days == 3 and instagram.config.lookback_days == 10
    assert youtube.config.account_label == "youtube:PMC"
    # Defaults when no URL is configured (the only place a real host is named).
    assert facebook.http.base_url == "https://graph.facebook.com/v21.0"
    assert instagram.http.base_url == "https://graph.facebook.com/v21.0"
    assert youtube.http.base_url == "https://www.googleapis.com/youtube/v3"
    assert [s.name for s in load(["all"], config_file)] == ["facebook", "instagram", "youtube"]


def test_named_sources_and_base_urls_from_the_environment(config_file):
    env = {
        **TOKENS,
        "SHEETS_SYNC_GRAPH_URL": "http://127.0.0.1:9/v21.0",
        "SHEETS_SYNC_YOUTUBE_URL": "http://127.0.0.1:9/youtube/v3",
    }
    (youtube, facebook) = load(["youtube", "facebook", "youtube"], config_file, env)
    assert facebook.http.base_url == "http://127.0.0.1:9/v21.0"
    assert youtube.http.base_url == "http://127.0.0.1:9/youtube/v3"
    config_file.write_text(CONFIG.replace("enabled: false", "enabled: true"), encoding="utf-8")
    env["SHEETS_SYNC_X_URL"] = "http://127.0.0.1:9"
    (x,) = load(["x"], config_file, env)
    assert isinstance(x, XSource) and x.http.base_url == "http://127.0.0.1:9"


def test_config_path_from_the_environment_or_the_working_directory(config_file, tmp_path, monkeypatch):
    env = {**TOKENS, "SHEETS_SYNC_SOURCES_CONFIG": str(config_file)}
    assert len(load_platform_sources(None, environ=env)) == 3
    monkeypatch.chdir(tmp_path)
    assert len(load_platform_sources(None, environ=dict(TOKENS))) == 3
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    with pytest.raises(ConfigError) as info:
        load_platform_sources(None, environ=dict(TOKENS))
    assert str(info.value) == (
        f"{other / 'sources.yaml'}: no sources configuration there; copy sources.example.yaml "
        "to sources.yaml and fill in the account ids (or set SHEETS_SYNC_SOURCES_CONFIG)"
    )


def test_the_shipped_example_is_valid():
    configs = load_sources_config(ROOT / "sources.example.yaml")
    assert list(configs) == ["facebook"]
    assert configs["facebook"].lookback_days == 30 and configs["facebook"].overlap_minutes == 120


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["tiktok"], "unknown source 'tiktok'; sources are all, facebook, instagram, youtube, x"),
        (["x"], "x is not configured or has enabled: false; add a x section with user_id"),
    ],
)
def test_unknown_or_disabled_names(config_file, names, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load(names, config_file)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "facebook:\n  page_id: 1\n  lookback_days: -1\n",
            "facebook.lookback_days must be a whole number ≥ 1, not -1",
        ),
        (
            "facebook:\n  page_id: 1\n  overlap_minutes: two\n",
            "facebook.overlap_minutes must be a whole number ≥ 0",
        ),
        (
            "facebook:\n  page_id: 1\n  follow_posts_days: true\n",
            "facebook.follow_posts_days must be a whole number",
        ),
        ("facebook:\n  pageid: 1\n", "facebook.pageid is not a setting; facebook takes account, department"),
        ("facebook:\n  department: W\n", "facebook.page_id is missing"),
        ("facebook:\n  page_id: ''\n", "facebook.page_id is missing"),
        ("facebook:\n  page_id: 1\n  enabled: yes please\n", "facebook.enabled must be true or false"),
        ("facebook:\n  page_id: 1\n  department: [A]\n", "facebook.department must be text"),
        ("tiktok:\n  id: 1\n", "unknown section 'tiktok'"),
        ("defaults:\n  page_id: 1\n", "defaults.page_id is not a setting"),
        ("facebook: [1, 2]\n", "facebook must be a mapping of settings"),
        ("- facebook\n", "expected a mapping of platform names to settings"),
        ("facebook:\n  page_id: [\n", "cannot read it as YAML"),
        ("", "no platform is enabled"),
    ],
)
def test_bad_settings_are_named(tmp_path, text, message):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(None, path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_token_names_the_variables(config_file):
    env = {k: v for k, v in TOKENS.items() if k != "SHEETS_SYNC_YOUTUBE_API_KEY"}
    with pytest.raises(ConfigError) as info:
        load(["youtube"], config_file, env)
    assert str(info.value) == (
        "youtube: no token: set SHEETS_SYNC_YOUTUBE_API_KEY or SHEETS_SYNC_YOUTUBE_TOKEN in the "
        "environment (or a secrets file named by SHEETS_SYNC_SECRETS_FILE)"
    )
    env["SHEETS_SYNC_YOUTUBE_TOKEN"] = "oauth-value"
    (youtube,) = load(["youtube"], config_file, env)
    assert youtube.secret.name == "SHEETS_SYNC_YOUTUBE_TOKEN"
    assert youtube.http._headers == {"Authorization": "Bearer oauth-value"}
    with pytest.raises(ConfigError, match="^instagram: no token: set SHEETS_SYNC_INSTAGRAM_TOKEN in"):
        load(["facebook", "instagram"], config_file, {"SHEETS_SYNC_FACEBOOK_TOKEN": "a"})


def test_bad_base_url(config_file):
    with pytest.raises(ConfigError, match="SHEETS_SYNC_GRAPH_URL='graph.local' is not an http"):
        load(["facebook"], config_file, {**TOKENS, "SHEETS_SYNC_GRAPH_URL": "graph.local"})


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_tokens_from_a_secrets_file_outside_the_repository(config_file, tmp_path, fmt):
    secrets = tmp_path / f"secrets.{fmt}"
    values = {k: v + "-from-file" for k, v in TOKENS.items()}
    if fmt == "json":
        secrets.write_text(json.dumps(values), encoding="utf-8")
    else:
        secrets.write_text("".join(f"{k}: {v}\n" for k, v in values.items()), encoding="utf-8")
    env = {"SHEETS_SYNC_SECRETS_FILE": str(secrets), "SHEETS_SYNC_FACEBOOK_TOKEN": "from-env"}
    facebook, instagram, youtube = load(None, config_file, env)
    assert facebook.secret.value == "from-env"  # the environment wins
    assert instagram.secret == Secret("SHEETS_SYNC_INSTAGRAM_TOKEN", "ig-secret-value-2-from-file")
    assert youtube.http._headers == {"X-goog-api-key": "yt-secret-value-3-from-file"}


def test_secrets_file_problems_never_show_its_content(config_file, tmp_path):
    repo = tmp_path / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / "config").mkdir()
    inside = repo / "config" / "secrets.yaml"
    inside.write_text("SHEETS_SYNC_FACEBOOK_TOKEN: in-repo-secret-value\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(["facebook"], config_file, {"SHEETS_SYNC_SECRETS_FILE": str(inside)})
    assert str(info.value) == (
        f"SHEETS_SYNC_SECRETS_FILE: {inside} is inside the repository {repo}; move it outside "
        "(e.g. ~/.config/sheets-sync/secrets.yaml) so it can never be committed"
    )

    bad = tmp_path / "secrets.yaml"
    cases = {
        "SHEETS_SYNC_FACEBOOK_TOKEN: [unclosed-secret-value\n": "is not a YAML or JSON mapping",
        "- list-secret-value\n": "is not a YAML or JSON mapping",
        "FACEBOOK: typo-secret-value\n": "unknown name 'FACEBOOK'",
        "SHEETS_SYNC_FACEBOOK_TOKEN: 12345\n": "SHEETS_SYNC_FACEBOOK_TOKEN must be text",
    }
    for text, message in cases.items():
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load(["facebook"], config_file, {"SHEETS_SYNC_SECRETS_FILE": str(bad)})
        assert message in str(info.value)
        assert "secret-value" not in str(info.value) and "12345" not in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load(["facebook"], config_file, {"SHEETS_SYNC_SECRETS_FILE": str(tmp_path / "nope")})


def test_sources_never_show_their_tokens(config_file):
    sources = load(None, config_file)
    shown = " ".join(repr(s) + repr(s.secret) + str(s.secret) + repr(s.http) for s in sources)
    assert "SHEETS_SYNC_FACEBOOK_TOKEN=***" in shown
    assert not [v for v in TOKENS.values() if v in shown]


# ----------------------------------------------------------------------------
# The shared HTTP client


def test_every_request_has_a_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and never answer
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    sleeps: list[float] = []
    client = HttpClient(
        "Facebook",
        f"http://127.0.0.1:{listener.getsockname()[1]}",
        headers={},
        map_error=lambda response, what: SourceError("unused"),
        sleep=sleeps.append,
        timeout=(0.5, 0.2),
        retry=RetryPolicy(attempts=2),
    )
    try:
        with pytest.raises(SourceError) as info:
            client.get("x", what="posts of Page 1")
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    assert str(info.value).startswith("Facebook: posts of Page 1: no answer within 0.2 s")
    assert len(sleeps) == 1


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(attempts=8, base_delay=1.0, max_delay=10.0)
    assert [policy.delay(n, lambda: 0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert [policy.delay(n, lambda: 1.0) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
