"""Integrity of the shipped data: the department roster and the sample exports.

``departments.yaml`` seeds the Departments tab and ``examples/`` is the sample
export people try the tool with, so both must stay consistent: every comment
hangs off a real post, every time carries an offset, every routed post lands in
exactly one department, and the edge cases the sample exists to show are still
in it. Standard library and PyYAML only: this does not import ``sheets_sync``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "sheets_sync" / "data" / "departments.yaml"
EXAMPLES = ROOT / "sheets_sync" / "data" / "examples"

POST_COLUMNS = ["platform", "post_id", "posted_at", "text", "url", "department"]
COMMENT_COLUMNS = ["platform", "comment_id", "post_id", "parent_id", "author", "author_id",
                   "commented_at", "text", "url", "by_page"]
PLATFORMS = {"facebook", "instagram", "youtube", "x"}
PAGE_AUTHOR = "Mahanagar Municipal Corporation"
DOMAIN = "@mahapalika.example"

CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,5}$")
EMAIL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*@mahapalika\.example$")
HASHTAG_RE = re.compile(r"#[\w\u0900-\u097F]+")
DEVANAGARI_LETTER = re.compile(r"[\u0904-\u0939\u0958-\u0961\u0972-\u097F]")
DEVANAGARI_DIGIT = re.compile(r"[\u0966-\u096F]")
LATIN_LETTER = re.compile(r"[A-Za-z]")

POST_ID_RE = {
    "facebook": re.compile(r"^\d{10,17}_\d{10,17}$"),
    "instagram": re.compile(r"^\d{17,18}$"),
    "youtube": re.compile(r"^[A-Za-z0-9_-]{11}$"),
    "x": re.compile(r"^\d{19}$"),
}
TOP_COMMENT_ID_RE = {
    "facebook": re.compile(r"^\d{10,17}_\d{10,17}$"),
    "instagram": re.compile(r"^\d{17,18}$"),
    "youtube": re.compile(r"^Ug[wxyz][A-Za-z0-9_-]{16}4AaABAg$"),
    "x": re.compile(r"^\d{19}$"),
}
YOUTUBE_REPLY_RE = re.compile(r"^(Ug[wxyz][A-Za-z0-9_-]{16}4AaABAg)\.[A-Za-z0-9_-]{22}$")
POST_URL_RE = {
    "facebook": re.compile(r"^https://www\.facebook\.com/[\w.]+/posts/(\d+)$"),
    "instagram": re.compile(r"^https://www\.instagram\.com/p/[A-Za-z0-9_-]{11}/$"),
    "youtube": re.compile(r"^https://www\.youtube\.com/watch\?v=([A-Za-z0-9_-]{11})$"),
    "x": re.compile(r"^https://x\.com/\w+/status/(\d{19})$"),
}

# The sample's window: posts in the week before "now" (2026-11-26 09:00 IST).
FIRST_DAY = datetime.fromisoformat("2026-11-16T00:00:00+05:30")
LAST_POST = datetime.fromisoformat("2026-11-26T00:00:00+05:30")
EXPORT_TIME = datetime.fromisoformat("2026-11-26T09:00:00+05:30")


# --- loading -------------------------------------------------------------------


@cache
def roster() -> tuple[dict, ...]:
    data = yaml.safe_load(ROSTER.read_text(encoding="utf-8"))
    return tuple(data["departments"])


def keywords(dept: dict) -> list[str]:
    return [*dept["keywords_en"], *dept["keywords_mr"], *(dept.get("keywords_hi") or [])]


def read_csv(name: str) -> tuple[list[str], list[dict[str, str]]]:
    raw = (EXAMPLES / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{name} must be UTF-8 without a BOM"
    with (EXAMPLES / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


@cache
def posts() -> tuple[dict[str, str], ...]:
    return tuple(read_csv("posts.csv")[1])


@cache
def comments() -> tuple[dict[str, str], ...]:
    return tuple(read_csv("comments.csv")[1])


def posts_by_key() -> dict[tuple[str, str], dict[str, str]]:
    return {(p["platform"], p["post_id"]): p for p in posts()}


def comments_by_key() -> dict[tuple[str, str], dict[str, str]]:
    return {(c["platform"], c["comment_id"]): c for c in comments()}


def when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None and value.utcoffset() is not None, f"{text!r} has no UTC offset"
    return value


def matching_departments(text: str) -> tuple[set[str], set[str]]:
    """(departments whose hashtag is in the text, departments with a keyword in it), case-insensitive."""
    tags = {t.casefold() for t in HASHTAG_RE.findall(text)}
    folded = text.casefold()
    by_tag = {d["code"] for d in roster() if any(h.casefold() in tags for h in d["hashtags"])}
    by_word = {d["code"] for d in roster() if any(k.casefold() in folded for k in keywords(d))}
    return by_tag, by_word


def department_of(post: dict[str, str]) -> str | None:
    if post["department"]:
        return post["department"]
    by_tag, by_word = matching_departments(post["text"])
    found = by_tag or by_word
    return next(iter(found)) if len(found) == 1 else None


# --- the roster --------------------------------------------------------------------


def test_roster_has_56_departments_with_unique_valid_codes():
    codes = [d["code"] for d in roster()]
    assert len(codes) == 56, "the office order appoints 56 officers, one per department"
    assert len(set(codes)) == 56, [c for c, n in Counter(codes).items() if n > 1]
    bad = [c for c in codes if not isinstance(c, str) or not CODE_RE.match(c)]
    assert not bad, f"codes must be 2-6 capital letters or digits: {bad}"


def test_roster_entries_have_every_field():
    fields = {"code", "name_en", "name_mr", "head", "nodal_officers", "hashtags",
              "keywords_en", "keywords_mr", "keywords_hi", "accounts"}
    for d in roster():
        assert set(d) == fields, f"{d.get('code')}: fields {sorted(set(d) ^ fields)}"
        assert d["name_en"].strip(), d["code"]
        for name in fields - {"code", "name_en", "name_mr", "head"}:
            assert isinstance(d[name], list), f"{d['code']}: {name} must be a list"


def test_marathi_names_are_devanagari():
    for d in roster():
        name = d["name_mr"]
        letters = [ch for ch in name if ch.isalpha()]
        assert letters, d["code"]
        assert all("\u0900" <= ch <= "\u097f" for ch in letters), f"{d['code']}: {name!r}"


def test_roster_text_is_nfc_so_matching_is_predictable():
    for d in roster():
        for value in [d["name_mr"], *d["hashtags"], *keywords(d)]:
            assert unicodedata.normalize("NFC", value) == value, f"{d['code']}: {value!r} is not NFC"


def test_emails_are_unique_lowercase_and_on_the_reserved_domain():
    emails = []
    for d in roster():
        assert d["nodal_officers"], f"{d['code']} needs at least one nodal officer"
        emails += [d["head"], *d["nodal_officers"]]
    bad = [e for e in emails if not EMAIL_RE.match(e)]
    assert not bad, f"e-mails must be lowercase and end in {DOMAIN}: {bad}"
    assert len(emails) == len(set(emails)), [e for e, n in Counter(emails).items() if n > 1]


def test_keyword_and_hashtag_counts():
    for d in roster():
        code = d["code"]
        assert 3 <= len(d["keywords_en"]) <= 8, code
        assert 3 <= len(d["keywords_mr"]) <= 8, code
        assert 1 <= len(d["hashtags"]) <= 3, code
        assert all(h.startswith("#") and HASHTAG_RE.fullmatch(h) for h in d["hashtags"]), code
        assert all(DEVANAGARI_LETTER.search(k) for k in d["keywords_mr"] + d["keywords_hi"]), code
        assert all(k.strip() == k and k for k in keywords(d)), code


def test_hashtags_belong_to_one_department():
    owners = Counter(h.casefold() for d in roster() for h in set(d["hashtags"]))
    assert not [h for h, n in owners.items() if n > 1]


def test_no_keyword_is_contained_in_another_departments_keyword():
    # "water" in one department and "water meter" in another would make every
    # water-meter post a tie; keep each word specific to one department.
    pairs = [(k.casefold(), d["code"]) for d in roster() for k in set(keywords(d))]
    clashes = [(a, ca, b, cb) for a, ca in pairs for b, cb in pairs if ca != cb and a in b]
    assert not clashes, clashes[:10]


def test_accounts_are_platform_handles():
    accounts = [a for d in roster() for a in d["accounts"]]
    assert 2 <= len(accounts) <= 3
    assert len(set(accounts)) == len(accounts)
    for account in accounts:
        platform, _, handle = account.partition(":")
        assert platform in PLATFORMS and re.fullmatch(r"[\w.]+", handle), account


# --- the CSV files -------------------------------------------------------------------


def test_headers_are_exact():
    assert read_csv("posts.csv")[0] == POST_COLUMNS
    assert read_csv("comments.csv")[0] == COMMENT_COLUMNS


def test_posts_are_well_formed():
    rows = posts()
    assert 25 <= len(rows) <= 32
    assert len(posts_by_key()) == len(rows), "duplicate (platform, post_id)"
    assert {p["platform"] for p in rows} == PLATFORMS
    for p in rows:
        where = f"post {p['platform']}:{p['post_id']}"
        assert POST_ID_RE[p["platform"]].match(p["post_id"]), where
        assert FIRST_DAY <= when(p["posted_at"]) < LAST_POST, where
        assert p["text"].strip(), where
        assert HASHTAG_RE.search(p["text"]) or p["platform"] == "youtube", f"{where}: no hashtag"
        match = POST_URL_RE[p["platform"]].match(p["url"])
        assert match, f"{where}: url {p['url']}"
        if p["platform"] in ("youtube", "x"):
            assert match.group(1) == p["post_id"], where
        if p["platform"] == "facebook":
            assert p["post_id"].endswith("_" + match.group(1)), where


def test_timestamps_show_more_than_one_offset():
    offsets = {when(p["posted_at"]).utcoffset() for p in posts()}
    assert len(offsets) >= 2, "some posts should be in UTC to show conversion to IST"
    assert any(p["posted_at"].endswith("Z") for p in posts())
    assert any(p["posted_at"].endswith("+00:00") for p in posts())


def test_explicit_departments_are_roster_codes():
    codes = {d["code"] for d in roster()}
    explicit = [p for p in posts() if p["department"]]
    assert not [p["department"] for p in explicit if p["department"] not in codes]
    assert len(posts()) // 4 <= len(explicit) <= len(posts()) // 2, "about a third name a department"


def test_unassigned_posts_match_no_rule():
    unnamed = [p for p in posts() if not p["department"]]
    unmatched = [p for p in unnamed if matching_departments(p["text"]) == (set(), set())]
    assert len(unmatched) >= 2, "the Unassigned queue needs at least two examples"


def test_every_other_post_routes_to_exactly_one_department():
    for p in posts():
        if p["department"]:
            continue
        by_tag, by_word = matching_departments(p["text"])
        if not by_tag and not by_word:
            continue  # an Unassigned example
        found = by_tag | by_word
        assert len(found) == 1, f"post {p['post_id']} matches {sorted(found)}: {p['text'][:60]!r}"


def test_posts_cover_enough_departments():
    departments = {department_of(p) for p in posts()} - {None}
    assert len(departments) >= 10


def test_comments_hang_off_existing_posts_and_parents():
    by_post, by_comment = posts_by_key(), comments_by_key()
    assert len(by_comment) == len(comments()), "duplicate (platform, comment_id)"
    for c in comments():
        where = f"comment {c['platform']}:{c['comment_id']}"
        post = by_post.get((c["platform"], c["post_id"]))
        assert post is not None, f"{where}: post {c['post_id']} not in posts.csv on {c['platform']}"
        at = when(c["commented_at"])
        assert at > when(post["posted_at"]), f"{where}: written before its post"
        assert at <= EXPORT_TIME, where
        if not c["parent_id"]:
            continue
        parent = by_comment.get((c["platform"], c["parent_id"]))
        assert parent is not None, f"{where}: parent {c['parent_id']} not in comments.csv"
        assert parent["post_id"] == c["post_id"], f"{where}: parent is under another post"
        assert at > when(parent["commented_at"]), f"{where}: written before its parent"
        if c["platform"] != "x":
            # Facebook, Instagram and YouTube nest one level: a reply's parent is top-level.
            assert not parent["parent_id"], f"{where}: parent is itself a reply"


def test_comment_ids_and_urls_look_like_the_platform():
    by_post = posts_by_key()
    for c in comments():
        platform, cid, url = c["platform"], c["comment_id"], c["url"]
        post = by_post[(platform, c["post_id"])]
        where = f"comment {platform}:{cid}"
        if platform == "youtube" and c["parent_id"]:
            match = YOUTUBE_REPLY_RE.match(cid)
            assert match and match.group(1) == c["parent_id"], where
        else:
            assert TOP_COMMENT_ID_RE[platform].match(cid), where
        if platform == "facebook":
            post_part, _, comment_part = cid.partition("_")
            assert c["post_id"].endswith("_" + post_part), where
            assert url.startswith(post["url"] + "?comment_id="), where
            if c["parent_id"]:
                assert url.endswith("&reply_comment_id=" + comment_part), where
            else:
                assert url.endswith("?comment_id=" + comment_part), where
        elif platform == "instagram":
            assert url.startswith(post["url"] + "c/") and url.endswith(f"/{cid}/"), where
        elif platform == "youtube":
            assert url == f"{post['url']}&lc={cid}", where
        else:
            assert re.fullmatch(rf"https://x\.com/\w+/status/{cid}", url), where


def test_authors_and_page_comments():
    page_ids: dict[str, set[str]] = {}
    for c in comments():
        assert c["by_page"] in ("true", "false", ""), c["comment_id"]
        assert c["author"].strip() and c["author_id"].strip(), c["comment_id"]
        if c["by_page"] == "true":
            assert c["author"] == PAGE_AUTHOR, c["comment_id"]
            page_ids.setdefault(c["platform"], set()).add(c["author_id"])
    assert set(page_ids) == PLATFORMS, "the corporation replies on every platform"
    assert all(len(ids) == 1 for ids in page_ids.values()), page_ids
    own = {(platform, next(iter(ids))) for platform, ids in page_ids.items()}
    for c in comments():
        if c["by_page"] != "true":
            assert c["author"] != PAGE_AUTHOR and (c["platform"], c["author_id"]) not in own, c["comment_id"]


def test_page_replies_and_thanks():
    by_comment = comments_by_key()
    page_replies = [c for c in comments() if c["by_page"] == "true" and c["parent_id"]]
    assert len(page_replies) >= 8
    assert all(by_comment[(c["platform"], c["parent_id"])]["by_page"] != "true" for c in page_replies)
    # A citizen answering after the corporation replied (a thank-you, or "still not fixed").
    answered = {(c["platform"], c["parent_id"]) for c in page_replies}
    answered |= {(c["platform"], c["comment_id"]) for c in page_replies}
    followups = [c for c in comments() if c["by_page"] != "true"
                 and (c["platform"], c["parent_id"]) in answered
                 and any(when(c["commented_at"]) > when(r["commented_at"]) for r in page_replies
                         if r["platform"] == c["platform"] and r["post_id"] == c["post_id"])]
    assert len(followups) >= 3
    assert any(re.search(r"धन्यवाद|thank", c["text"], re.I) for c in followups)


def test_comment_spread():
    counts = Counter((c["platform"], c["post_id"]) for c in comments())
    assert 120 <= len(comments()) <= 140
    assert max(counts.values()) <= 10
    assert any(key not in counts for key in posts_by_key()), "one post without comments"
    by_post = posts_by_key()
    departments = {department_of(by_post[key]) for key in counts} - {None}
    assert len(departments) >= 8
    assert {c["platform"] for c in comments()} == PLATFORMS
    days = {when(c["commented_at"]).date() for c in comments()}
    assert len(days) >= 9


# --- the edge cases the sample exists to show ------------------------------------------------


def texts() -> list[str]:
    return [c["text"] for c in comments()]


def test_exactly_one_very_long_comment():
    long = [t for t in texts() if len(t) > 1000]
    assert len(long) == 1
    assert 4000 <= len(long[0]) <= 6000
    assert DEVANAGARI_LETTER.search(long[0]) and LATIN_LETTER.search(long[0])


def test_exactly_one_image_only_comment():
    assert [t for t in texts() if not t.strip()] == [""]


@pytest.mark.parametrize("start", ["=", "+", "@", "-"])
def test_comments_starting_with_formula_characters(start):
    # A sheet would read these as formulas if they were written unescaped.
    assert any(t.startswith(start) for t in texts()), start


def test_formula_injection_and_phone_number_samples():
    assert any(t.startswith("=HYPERLINK(") for t in texts())
    assert any(re.match(r"\+91[\s\d]{10,}", t) for t in texts())


def test_newline_and_quotes_in_one_comment():
    assert any("\n" in t and '"' in t and len(t) < 1000 for t in texts())


def test_mixed_scripts_in_one_comment():
    mixed = [t for t in texts() if DEVANAGARI_LETTER.search(t) and LATIN_LETTER.search(t) and len(t) < 1000]
    assert len(mixed) >= 10
    assert any("Ward 14" in t and "please check" in t for t in mixed)


def test_marathi_hindi_and_english_comments():
    assert any(re.search(r"आहे|नाही|करा", t) for t in texts()), "Marathi"
    assert any(re.search(r"हैं|है।|कीजिए|करवाइए", t) for t in texts()), "Hindi"
    assert any(t and not DEVANAGARI_LETTER.search(t) and LATIN_LETTER.search(t) for t in texts()), "English"


def test_devanagari_digits():
    assert any(DEVANAGARI_DIGIT.search(t) for t in texts())
    assert any(DEVANAGARI_DIGIT.search(p["text"]) for p in posts())


def test_emoji_including_multi_codepoint_sequences():
    joined = "".join(texts())
    for sequence in ("👍🏽", "🇮🇳", "👨\u200d👩\u200d👧", "🙏"):
        assert sequence in joined, sequence


def test_spam_and_thanks_are_present():
    assert any("http://" in t and c["by_page"] != "true" for c in comments() for t in [c["text"]])
    assert sum(bool(re.search(r"धन्यवाद|thank|शुक्रिया", t, re.I)) for t in texts()) >= 5


def test_some_comments_wait_longer_than_a_day():
    # Overdue examples: top-level citizen comments nobody from the page answered, over a day old
    # at export time, and fresh ones that are not overdue yet.
    answered = {(c["platform"], c["parent_id"]) for c in comments() if c["by_page"] == "true"}
    waiting = [c for c in comments() if not c["parent_id"] and c["by_page"] != "true"
               and (c["platform"], c["comment_id"]) not in answered]
    ages = [(EXPORT_TIME - when(c["commented_at"])).total_seconds() / 3600 for c in waiting]
    assert sum(age > 48 for age in ages) >= 20
    assert sum(age < 24 for age in ages) >= 3
