"""The Instagram professional account source against the local Graph API fake.

What every platform source does alike (overlap, crash, throttling midway, an
expired token, far-future times) is in ``test_sources_contract.py``; here, what
is this platform's own.
"""

from __future__ import annotations

import pytest

from sheets_sync.errors import AuthError, ConfigError, RateLimited
from sheets_sync.testing.fake_platforms.graph import FakeGraph, graph_error, graph_throttled
from tests.platform_fixtures import IG_USER_ID, at, make_source

ACCOUNT = (IG_USER_ID, "pmc_pune")


def seed(graph: FakeGraph) -> None:
    graph.add_ig_user(IG_USER_ID, "pmc_pune")
    graph.add_media(IG_USER_ID, "m1", at(days=-4), "स्वच्छ पुणे 🌿 #cleanliness")
    graph.add_media(IG_USER_ID, "m2", at(days=-2), None)
    graph.add_media(IG_USER_ID, "m3", at(days=-1), "Quiet post")  # no comments
    graph.add_ig_comment("m1", "c1", at(days=-4, hours=1), "कचरा उचलला नाही 😡", author=("501", "asha"))
    graph.add_ig_comment("m1", "c2", at(days=-4, hours=2), "When?", author=("502", "ravi"))
    graph.add_ig_comment("m1", "c3", at(days=-4, hours=3), "hidden one", hidden=True)
    # c2 gets four replies: two carried inline, the rest read from /c2/replies.
    graph.add_ig_comment("m1", "r1", at(days=-4, hours=4), "@ravi Tomorrow", author=ACCOUNT, parent="c2")
    graph.add_ig_comment("m1", "r2", at(days=-4, hours=5), "ok", author=("502", "ravi"), parent="c2")
    graph.add_ig_comment("m1", "r3", at(days=-4, hours=6), "still?", author=("502", "ravi"), parent="c2")
    graph.add_ig_comment("m1", "r4", at(days=-4, hours=7), "Done ✅", author=("999", "PMC_Pune"), parent="c2")
    graph.add_ig_comment("m2", "c4", at(hours=-3), "Nice", author=("503", "meera"))


def test_reads_media_comments_and_replies(fake_graph):
    seed(fake_graph)
    batch = make_source("instagram", fake_graph).fetch(None)

    assert [p.post_id for p in batch.posts] == ["m1", "m2", "m3"]
    assert batch.posts[0].text == "स्वच्छ पुणे 🌿 #cleanliness"
    assert batch.posts[0].url.startswith("https://www.instagram.com/p/")
    by_id = {c.comment_id: c for c in batch.comments}
    assert list(by_id) == ["c1", "c2", "c3", "r1", "r2", "r3", "r4", "c4"]
    assert by_id["c1"].text == "कचरा उचलला नाही 😡" and by_id["c1"].author == "asha"
    assert by_id["r1"].parent_id == "c2" and by_id["r1"].by_page  # from.id is the account
    assert by_id["r4"].by_page  # username matches the account's, whatever its case
    assert not by_id["r2"].by_page and by_id["r3"].parent_id == "c2"
    assert by_id["c3"].deleted and not by_id["c1"].deleted
    assert by_id["c1"].url == f"{batch.posts[0].url}c/c1/"
    assert batch.warnings == []
    assert fake_graph.paths("/c2/replies")  # beyond what the comment carried
    assert not fake_graph.paths("/m3/comments")  # comments_count 0: not asked
    # m1 has three top-level comments at two a page.
    assert len(fake_graph.paths("/m1/comments")) == 2


def test_media_paging_and_look_back(fake_graph):
    fake_graph.add_ig_user(IG_USER_ID, "pmc_pune")
    for day in range(1, 6):
        fake_graph.add_media(IG_USER_ID, f"m{day}", at(days=-day), f"post {day}")
    fake_graph.add_media(IG_USER_ID, "old", at(days=-45), "old")
    batch = make_source("instagram", fake_graph).fetch(None)
    assert [p.post_id for p in batch.posts] == ["m5", "m4", "m3", "m2", "m1"]
    assert len(fake_graph.paths("/media")) == 3


def test_throttled_on_first_request_raises(fake_graph):
    seed(fake_graph)
    fake_graph.fail(f"/{IG_USER_ID}", *graph_throttled(code=80002, minutes=3))
    with pytest.raises(RateLimited, match="Instagram throttled"):
        make_source("instagram", fake_graph).fetch(None)


def test_missing_permission_names_it(fake_graph):
    seed(fake_graph)
    source = make_source("instagram", fake_graph)
    fake_graph.fail("/comments", *graph_error(10, "(#10) Application does not have permission"))
    with pytest.raises(AuthError, match="instagram_manage_comments"):
        source.fetch(None)


def test_real_capture_payload_and_malformed_comments(fake_graph):
    fake_graph.add_ig_user(IG_USER_ID, "pmc_pune")
    fake_graph.add_media(IG_USER_ID, "17846368219941692", at(days=-1), "post")
    real = {
        "id": "17892250648466172",
        "like_count": 1,
        "media": {"id": "17846368219941692"},
        "text": "@ikroskun  Hey, guys",
        "timestamp": "2026-11-19T09:15:16+0000",
        "user": {"id": "17841406338772941"},
        "username": "ikroskun",
        "hidden": False,
        "replies": {
            "data": [
                {"timestamp": "2026-11-19T09:18:08+0000", "text": "@ikroskun Nice", "id": "17845747489952795"}
            ]
        },
    }
    fake_graph.add_raw_comment("17846368219941692", real, at(hours=-20))
    fake_graph.add_raw_comment(
        "17846368219941692", {"text": "no id", "timestamp": "2026-11-19T10:00:00+0000"}, at(hours=-19)
    )
    fake_graph.add_raw_comment(
        "17846368219941692", {"id": "bad-time", "text": "x", "timestamp": 12}, at(hours=-18)
    )
    batch = make_source("instagram", fake_graph).fetch(None)
    by_id = {c.comment_id: c for c in batch.comments}
    assert list(by_id) == ["17892250648466172", "17845747489952795"]
    assert by_id["17892250648466172"].author_id == "17841406338772941"
    assert by_id["17892250648466172"].text == "@ikroskun  Hey, guys"  # double space kept
    assert by_id["17845747489952795"].parent_id == "17892250648466172"
    assert batch.warnings == [
        'instagram: skipped a comment on media 17846368219941692 without an id: {"text": "no id", '
        '"timestamp": "2026-11-19T10:00:00+0000"}',
        "instagram: skipped comment bad-time on media 17846368219941692: timestamp 12 is not a time",
    ]


def test_wrong_account_id_is_a_config_error_and_check_reports(fake_graph):
    expected = r"^instagram\.ig_user_id 17841400000000001 in sources\.yaml: .*\(not the Page id\)"
    with pytest.raises(ConfigError, match=expected):
        make_source("instagram", fake_graph).fetch(None)
    seed(fake_graph)
    check = make_source("instagram", fake_graph).check()
    assert check.ok and "@pmc_pune" in check.detail


def test_a_lone_surrogate_is_replaced_and_the_comment_named(fake_graph):
    fake_graph.add_ig_user(IG_USER_ID, "pmc_pune")
    fake_graph.add_media(IG_USER_ID, "m1", at(days=-1), "post")
    fake_graph.add_ig_comment("m1", "c1", at(hours=-5), "bad \ud800", author=("501", "asha"))
    batch = make_source("instagram", fake_graph).fetch(None)
    assert [c.text for c in batch.comments] == ["bad \ufffd"]
    assert any(": c1: 'text' held \\ud800" in w for w in batch.warnings)
