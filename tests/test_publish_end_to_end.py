"""Publishing through the command line on the platform fakes: the real publishers, the
real tokens' settings, the tracker's approval — one reply under the citizen's comment,
however many times the job runs."""

from __future__ import annotations

from click.testing import CliRunner

from sheets_sync import cli
from tests.helpers import comment, init_tracker, post, write_export
from tests.platform_fixtures import PAGE_ID, at
from tests.test_sources_facebook import seed
from tests.trackers import XlsxHarness, records

REPLY = "नमस्कार, फोटोबद्दल धन्यवाद 🙏 & welcome"


def run(args, env):
    result = CliRunner().invoke(cli.main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def page_replies(fake_graph, comment_id):
    return [c.text for c in fake_graph.comments if c.parent == comment_id and c.author
            and c.author[0] == PAGE_ID]


def test_an_approved_reply_is_posted_once_on_facebook(tmp_path, fake_graph, roster_file):
    seed(fake_graph)
    config = tmp_path / "sources.yaml"
    config.write_text(f"facebook:\n  page_id: {PAGE_ID}\n", encoding="utf-8")
    env = {"SHEETS_SYNC_SOURCES_CONFIG": str(config), "SHEETS_SYNC_GRAPH_URL": fake_graph.url,
           "SHEETS_SYNC_FACEBOOK_PUBLISH_TOKEN": fake_graph.token}
    harness = XlsxHarness(tmp_path)
    init_tracker(harness.path, roster_file)
    export = write_export(tmp_path / "export", [post("111_3", "फोटो", platform="facebook")],
                          [comment("3_c1", "111_3", "फोटो छान आहे", platform="facebook",
                                   at=at(hours=-2).isoformat())])
    tracker = ["--tracker", str(harness.path)]
    run(["sync", *tracker, "--source", f"files:{export}", "--roster", str(roster_file)], env)
    harness.type_in("Comments", "Comment ID", "3_c1", "Reply", REPLY)
    run(["publish", *tracker, "--platform", "facebook"], env)  # shows it for approval
    assert records(harness.values("Comments"))[0]["Publish"] == "waiting for approval"
    assert page_replies(fake_graph, "3_c1") == []
    harness.type_in("Comments", "Comment ID", "3_c1", "Approve", "TRUE")  # the cell ticks
    dry = run(["publish", *tracker, "--platform", "facebook", "--dry-run"], env)
    assert "3_c1" in dry and page_replies(fake_graph, "3_c1") == []
    run(["publish", *tracker, "--platform", "facebook"], env)
    run(["sync", *tracker, "--source", f"files:{export}", "--publish", "facebook"], env)
    run(["publish", *tracker, "--platform", "facebook"], env)
    assert page_replies(fake_graph, "3_c1") == [REPLY]  # once, byte for byte
    row = records(harness.values("Comments"))[0]
    assert row["Publish"].startswith("posted") and row["Reply id"] and row["Status"] == "Replied"
    assert row["Reply link"].startswith("https://")
    out = run(["replies", *tracker, "--json"], env)
    assert "3_c1" in out
