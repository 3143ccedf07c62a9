"""Properties over random exports: a second sync changes nothing, every comment whose post
exists is on exactly one row, and citizen text comes back byte for byte."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheets_sync.backends.xlsx import XlsxBackend, XlsxSession, _text
from sheets_sync.models import PLATFORMS, Comment, Post
from sheets_sync.planner import TrackerView, plan_new_rows
from sheets_sync.roster import load_roster_file
from sheets_sync.schema import load_schema
from sheets_sync.sources import FileSource
from sheets_sync.sources.base import Batch
from sheets_sync.sync import run_sync
from sheets_sync.table import AddRow, Record
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import COMMENT_HEADER, POST_HEADER, write_roster
from tests.trackers import english_header

SCHEMA = load_schema()
NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
EXCEL_LIMIT = XlsxSession.cell_limit
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- strategies ------------------------------------------------------------------------

ids = st.text(alphabet="ab01", min_size=1, max_size=2)  # few ids: repeats and collisions happen
platforms = st.sampled_from(PLATFORMS)
times = st.sampled_from(["2026-11-20T10:00:00+05:30", "2026-11-20T04:30:00Z", "2026-11-21T23:59:00-04:00"])
WORDS = ["कचरा", "घंटागाडी", "खड्डे", "पाणीपुरवठा", "पानी कब आएगा", "#SwachhMahanagar", "#PaniPuravatha",
         "pothole", "garbage", "नमस्कार", "धन्यवाद 🙏", "😡", "👨‍👩‍👧", "🇮🇳", "?"]
# Any character a person can type or paste: every script, emoji, combining marks, line breaks.
# Control characters other than tab and line feed cannot be stored in a workbook (XML 1.0);
# a carriage return comes back as a line feed (see test_a_carriage_return_survives_the_workbook).
typed = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | \
    st.sampled_from(["\n", "\t", "\u2028", "\u0085", "अ", "ा", "्", "\u200d"])
texts = st.builds(
    lambda lead, parts: lead + "".join(parts),
    st.sampled_from(["", "=", "+", "-", "@", "=HYPERLINK(\"http://x.example\")", " ", "'", "0"]),
    st.lists(st.sampled_from(WORDS).map(lambda w: w + " ") | st.text(typed, max_size=8), max_size=5),
)


@st.composite
def exports(draw):
    posts = draw(st.dictionaries(st.tuples(platforms, ids), st.tuples(texts, st.sampled_from(["", "ROADS"])),
                                 max_size=6))
    comments = draw(st.dictionaries(
        st.tuples(platforms, ids),
        st.tuples(ids, texts, st.booleans(), times, ids | st.just("")),
        max_size=12))
    post_rows = [{"platform": p, "post_id": pid, "posted_at": "2026-11-20T09:00:00+05:30", "text": text,
                  "url": f"https://example.org/{p}/{pid}", "department": dept}
                 for (p, pid), (text, dept) in posts.items()]
    comment_rows = [{"platform": p, "comment_id": cid, "post_id": pid, "parent_id": parent,
                     "author": "नागरिक", "author_id": "u1", "commented_at": at, "text": text,
                     "url": f"https://example.org/{p}/{pid}/{cid}", "by_page": "true" if by_page else ""}
                    for (p, cid), (pid, text, by_page, at, parent) in comments.items()]
    # An export may repeat a record exactly (overlapping downloads); that must change nothing.
    repeat = draw(st.booleans())
    if repeat and comment_rows:
        comment_rows.append(dict(comment_rows[0]))
    return post_rows, comment_rows, draw(st.sampled_from(["csv", "jsonl"]))


def write(folder: Path, posts: list[dict], comments: list[dict], fmt: str) -> None:
    folder.mkdir()
    for name, header, rows in (("posts", POST_HEADER, posts), ("comments", COMMENT_HEADER, comments)):
        if fmt == "csv":
            with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
        else:
            lines = [json.dumps({**r, "by_page": r.get("by_page") == "true"} if "by_page" in r else r,
                                ensure_ascii=False) for r in rows]
            (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def excel_text(text: str) -> str:
    """What the workbook holds: the text whole, or cut at Excel's limit with a note."""
    from sheets_sync.planner import cell_text

    return cell_text(text, EXCEL_LIMIT)


def tab_rows(path: Path, title: str) -> list[dict[str, str]]:
    ws = openpyxl.load_workbook(path)[title]
    rows = [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    header = [english_header(h) for h in rows[0]]  # columns named by their English headers
    return [dict(zip(header, row, strict=False)) for row in rows[1:] if any(row)]


# -- the whole engine on the workbook --------------------------------------------------------


@FAST
@given(exports())
def test_sync_twice_on_random_exports(export):
    posts, comments, fmt = export
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write(tmp / "export", posts, comments, fmt)
        roster = write_roster(tmp / "departments.yaml")
        backend = XlsxBackend(tmp / "tracker.xlsx")
        source = FileSource(tmp / "export")

        first = run_sync(backend, [source], SCHEMA, roster_path=roster, now=NOW)
        second = run_sync(backend, [source], SCHEMA, roster_path=roster, now=NOW)
        assert second.plan.changes == []
        assert second.plan.held == first.plan.held

        post_keys = {(p["platform"], p["post_id"]) for p in posts}
        expected = {}
        for c in comments:
            if (c["platform"], c["post_id"]) in post_keys:
                expected[(c["platform"], c["comment_id"])] = c
        rows = tab_rows(tmp / "tracker.xlsx", "Comments")
        keys = [(r["Platform"], r["Comment ID"]) for r in rows]
        assert len(keys) == len(set(keys))  # one row per comment
        assert set(keys) == set(expected)
        unique = {(c["platform"], c["comment_id"]) for c in comments}
        assert len(first.plan.held) == len(unique) - len(expected)
        # A citizen's comment the corporation's own account answered under it (a reply in
        # the tracker, so with its post) closes by itself: Replied (see the README).
        answered = {(c["platform"], c["parent_id"]) for c in expected.values()
                    if c["by_page"] and c["parent_id"]}
        for row in rows:
            key = (row["Platform"], row["Comment ID"])
            original = expected[key]
            assert row["Comment"].encode() == excel_text(original["text"]).encode()
            assert row["Status"] == ("Not required" if original["by_page"] else
                                     "Replied" if key in answered else "Pending")
        for row in tab_rows(tmp / "tracker.xlsx", "Posts"):
            original = next(p for p in posts if (p["platform"], p["post_id"]) == (row["Platform"],
                                                                                    row["Post ID"]))
            assert row["Post text"].encode() == excel_text(original["text"]).encode()
        # Nothing citizens wrote became a formula.
        ws = openpyxl.load_workbook(tmp / "tracker.xlsx")["Comments"]
        assert not any(cell.data_type == "f" for row in ws.iter_rows() for cell in row)


# -- the planner alone (pure) ------------------------------------------------------------------


def _records(plan, tab: str) -> dict[tuple, Record]:
    key = SCHEMA.tab(tab).key
    out = {}
    for number, change in enumerate((c for c in plan.changes if c.tab == tab), start=2):
        assert isinstance(change, AddRow)
        values = {k: str(v) for k, v in change.values.items()}
        out[tuple(values[k] for k in key)] = Record(number, values)
    return out


def _batch(posts: list[dict], comments: list[dict]) -> Batch:
    def at(text):
        return parse_timestamp(text)

    return Batch(
        posts=[Post(p["platform"], p["post_id"], at(p["posted_at"]), p["text"], p["url"], p["department"])
               for p in posts],
        comments=[Comment(c["platform"], c["comment_id"], c["post_id"], c["parent_id"], c["author"],
                          c["author_id"], at(c["commented_at"]), c["text"], c["url"], c["by_page"] == "true")
                  for c in comments])


@settings(max_examples=100, deadline=None)
@given(exports(), exports())
def test_planning_on_an_applied_plan_is_empty(first, later):
    roster = load_roster_file(write_roster(Path(tempfile.mkdtemp()) / "departments.yaml"))
    batch = _batch(first[0], first[1][:len(first[1]) - 1] if len(first[1]) > 1 else first[1])
    empty = TrackerView(posts={}, comments={}, roster=roster)
    plan = plan_new_rows(empty, {"files:a": batch}, SCHEMA, NOW)
    comment_adds = [c for c in plan.changes if c.tab == "comments"]
    assert len(comment_adds) == len({(c.values["platform"], c.values["comment_id"]) for c in comment_adds})

    view = TrackerView(posts=_records(plan, "posts"), comments=_records(plan, "comments"), roster=roster)
    assert plan_new_rows(view, {"files:a": batch}, SCHEMA, NOW).changes == []

    # A later export adds exactly what is new and whose post is known, and nothing twice.
    more = _batch(later[0], later[1])
    known_posts = set(view.posts) | {p.key for p in more.posts}
    new_plan = plan_new_rows(view, {"files:b": more}, SCHEMA, NOW)
    added = [(c.values["platform"], c.values["comment_id"]) for c in new_plan.changes
             if c.tab == "comments" and isinstance(c, AddRow)]
    assert sorted(added) == sorted({c.key for c in more.comments
                                    if c.key not in view.comments and c.post_key in known_posts})
    # Rows already in the tracker are only ever updated, and a post only while it is Unassigned.
    # (a comment row only to follow its post to the department it was routed to now).
    rerouted = {(c.key[0], c.key[1]): c.values["department"] for c in new_plan.changes
                if c.tab == "posts" and not isinstance(c, AddRow)}
    for change in new_plan.changes:
        if isinstance(change, AddRow):
            continue
        if change.tab == "posts":
            assert view.posts[change.key].get("department") == SCHEMA.unassigned
        else:
            old = view.comments[change.key]
            assert change.tab == "comments"
            assert change.values == {"department": rerouted[(change.key[0], old.get("post_id"))]}


# -- what the properties above found ----------------------------------------------------------


def _sync_one_comment(tmp: Path, text: str) -> tuple[str, object]:
    write(tmp / "export", [{"platform": "x", "post_id": "P1", "posted_at": "2026-11-20T09:00:00+05:30",
                            "text": "post", "url": "u", "department": ""}],
          [{"platform": "x", "comment_id": "C1", "post_id": "P1", "parent_id": "", "author": "a",
            "author_id": "1", "commented_at": "2026-11-20T10:00:00+05:30", "text": text, "url": "u",
            "by_page": ""}], "jsonl")
    run_sync(XlsxBackend(tmp / "tracker.xlsx"), [FileSource(tmp / "export")], SCHEMA,
             roster_path=write_roster(tmp / "departments.yaml"), now=NOW)
    return tab_rows(tmp / "tracker.xlsx", "Comments")[0]["Comment"]


def test_a_carriage_return_survives_the_workbook(tmp_path):
    assert _sync_one_comment(tmp_path, "Windows line end\r\nand an old Mac one\rend") == \
        "Windows line end\r\nand an old Mac one\rend"


def test_the_cell_limit_counts_what_excel_counts(tmp_path):
    stored = _sync_one_comment(tmp_path, "😡" * 20_000)
    assert len(stored.encode("utf-16-le")) // 2 <= EXCEL_LIMIT
