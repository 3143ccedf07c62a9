"""Departments and routing: which department a post goes to, and why; the roster file's
and the Departments tab's mistakes, each named by its line or row."""

from __future__ import annotations

from pathlib import Path

import pytest

from sheets_sync.errors import ConfigError
from sheets_sync.models import Post
from sheets_sync.planner import TrackerView, plan_new_rows
from sheets_sync.roster import Department, Roster, load_roster_file, roster_from_rows
from sheets_sync.schema import load_schema
from sheets_sync.sources.base import Batch
from sheets_sync.timeutil import parse_timestamp
from tests.helpers import ROSTER_YAML

ROOT = Path(__file__).resolve().parent.parent
NOW = parse_timestamp("2026-11-26T12:00:00+05:30")
SCHEMA = load_schema()


@pytest.fixture
def roster(roster_file):
    return load_roster_file(roster_file)


def routed(roster: Roster, *posts: Post) -> dict[str, tuple[str, str]]:
    """post_id → (department, routed by), as the planner writes them to the Posts tab."""
    view = TrackerView(posts={}, comments={}, roster=roster)
    plan = plan_new_rows(view, {"test": Batch(posts=list(posts))}, SCHEMA, NOW)
    return {c.values["post_id"]: (c.values["department"], c.values["routed_by"]) for c in plan.changes
            if c.tab == "posts"}


def a_post(pid: str, text: str, department: str = "", account: str = "") -> Post:
    return Post("facebook", pid, NOW, text, f"https://fb.example/{pid}", department, account,
                origin=f"posts.csv line {pid[1:]}")


# -- routing ------------------------------------------------------------------------


def test_an_explicit_department_wins_over_every_rule(roster):
    got = routed(roster,
                 a_post("P1", "#SwachhMahanagar कचरा garbage", department="ROADS"),
                 a_post("P2", "#SwachhMahanagar", department="roads"),
                 a_post("P3", "#SwachhMahanagar", department="Water Supply"),
                 a_post("P4", "#SwachhMahanagar", department="पाणीपुरवठा"))
    assert got == {"P1": ("ROADS", "named in the export"), "P2": ("ROADS", "named in the export"),
                   "P3": ("WS", "named in the export"), "P4": ("WS", "named in the export")}


def test_an_unknown_explicit_department_is_routed_by_the_rules_with_a_warning(roster):
    view = TrackerView(posts={}, comments={}, roster=roster)
    batch = Batch(posts=[a_post("P7", "कचरा उचलला नाही", department="GARBAGE")])
    plan = plan_new_rows(view, {"t": batch}, SCHEMA, NOW)
    assert plan.changes[0].values["department"] == "SWM"
    assert plan.warnings == ["posts.csv line 7: department 'GARBAGE' is not in the roster; "
                             "routed by the rules instead"]


def test_a_hashtag_beats_keywords(roster):
    # Three SWM keywords, one Water Supply hashtag: the hashtag decides.
    assert roster.route("#PaniPuravatha garbage waste कचरा") == ("WS", "hashtag #PaniPuravatha")
    assert roster.route("#panipuravatha") == ("WS", "hashtag #PaniPuravatha")
    assert roster.route("#PaniPuravathaToday")[0] is None  # a hashtag is a whole tag


def test_more_keyword_matches_win(roster):
    assert roster.route("garbage and waste near the pothole") == ("SWM", "keyword garbage")


def test_a_keyword_listed_twice_counts_once():
    # वाचनालय in both the Marathi and the Hindi list must not outweigh one other match.
    roster = Roster([Department("LIB", "Libraries", keywords_mr=("वाचनालय",), keywords_hi=("वाचनालय",)),
                     Department("EDU", "Education", keywords_mr=("शाळा",))])
    assert roster.route("शाळा वाचनालय") == (None, "keywords of EDU, LIB tie")


def test_a_tie_is_not_guessed(roster):
    assert roster.route("garbage pothole") == (None, "keywords of ROADS, SWM tie")
    assert roster.route("#SwachhMahanagar #PaniPuravatha") == (None, "hashtags of SWM, WS tie")
    got = routed(roster, a_post("P1", "garbage pothole"))
    assert got == {"P1": ("Unassigned", "keywords of ROADS, SWM tie")}


def test_nothing_matched_goes_to_unassigned_with_the_reason(roster):
    assert routed(roster, a_post("P1", "Happy Diwali 🪔")) == {"P1": ("Unassigned", "no rule matched")}


def test_marathi_keyword_matches_the_start_of_a_longer_word():
    roster = Roster([Department("WS", "Water Supply", keywords_mr=("पाणी",))])
    assert roster.route("पाणीपुरवठा बंद राहील") == ("WS", "keyword पाणी")
    assert roster.route("उद्या पाणी येणार नाही") == ("WS", "keyword पाणी")
    assert roster.route("बिनपाणी")[0] is None  # the start of a word, not its middle


@pytest.mark.parametrize("text, code, keyword", [
    ("रस्त्यावरील खड्ड्यांमुळे अपघात होत आहेत", "ROADS", "खड्डे"),  # खड्डे → खड्ड्यांमुळे
    ("कचऱ्याची गाडी आली नाही", "SWM", "कचरा"),                     # कचरा → कचऱ्याची (eyelash ra)
    ("पाणीपुरवठ्याची वेळ बदलली", "WS", "पाणीपुरवठा"),               # पाणीपुरवठा → पाणीपुरवठ्याची
    ("नवीन रस्त्याचे काम", "ROADS", "रस्ता"),                        # रस्ता → रस्त्याचे
])
def test_inflected_marathi_finds_its_keyword(roster, text, code, keyword):
    assert roster.route(text) == (code, f"keyword {keyword}")


def test_a_short_stem_is_not_used():
    # पानी (Hindi: water) must not find पान (page, leaf) by dropping its vowel sign.
    roster = Roster([Department("WS", "Water Supply", keywords_hi=("पानी",))])
    assert roster.route("पान 3 वर सूचना")[0] is None
    assert roster.route("पानी कब आएगा?") == ("WS", "keyword पानी")


def test_english_plurals_and_case(roster):
    assert roster.route("Potholes everywhere on FC Road") == ("ROADS", "keyword pothole")
    assert roster.route("GARBAGE!!!") == ("SWM", "keyword garbage")


def test_a_multi_word_keyword_needs_its_words_in_a_row(roster):
    assert roster.route("Water  Supply timings for ward 5") == ("WS", "keyword water supply")
    assert roster.route("water supply's new timetable") == ("WS", "keyword water supply")
    assert roster.route("supply of water")[0] is None
    assert roster.route("water and power supply")[0] is None
    assert roster.route("saltwater supply")[0] is None


def test_an_account_rule_wins_over_hashtags_and_keywords():
    roster = Roster([
        Department("FIRE", "Fire Brigade", accounts=("x:MahanagarFire",), keywords_en=("fire",)),
        Department("SWM", "Solid Waste", hashtags=("#SwachhMahanagar",), keywords_en=("garbage",)),
    ])
    assert roster.route("#SwachhMahanagar garbage fire", account="x:mahanagarfire") == (
        "FIRE", "account x:mahanagarfire")
    assert roster.route("#SwachhMahanagar", account="x:SomeoneElse") == (
        "SWM", "hashtag #SwachhMahanagar")
    got = routed(roster, a_post("P1", "garbage", account="x:MahanagarFire"))
    assert got == {"P1": ("FIRE", "account x:MahanagarFire")}


def test_an_account_two_departments_claim_falls_back_to_the_rules():
    roster = Roster([Department("FIRE", "Fire Brigade", accounts=("x:Mahanagar",)),
                     Department("SWM", "Solid Waste", accounts=("x:Mahanagar",), keywords_en=("garbage",))])
    assert roster.route("garbage", account="x:Mahanagar") == ("SWM", "keyword garbage")


def test_an_emoji_keyword():
    roster = Roster([Department("GDN", "Gardens", keywords_en=("🌳",))])
    assert roster.route("🌳🌳 वृक्षारोपण") == ("GDN", "keyword 🌳")


def test_resolve_what_a_person_typed(roster):
    assert roster.resolve(" swm ") == "SWM"
    assert roster.resolve("solid waste management") == "SWM"
    assert roster.resolve("घनकचरा व्यवस्थापन") == "SWM"
    assert roster.resolve("ROADS — Roads") == "ROADS"
    assert roster.resolve("Parks") is None and roster.resolve("") is None


# -- the roster file --------------------------------------------------------------------


def _line(text: str, fragment: str, nth: int = 1) -> int:
    hits = [i + 1 for i, ln in enumerate(text.splitlines()) if fragment in ln]
    return hits[nth - 1]


def test_the_roster_file_loads(roster):
    assert [d.code for d in roster] == ["SWM", "WS", "ROADS"]
    swm = roster.get("SWM")
    assert swm.name_mr == "घनकचरा व्यवस्थापन" and swm.nodal_officers == ("swm.nodal@mahapalika.example",)
    assert swm.as_row()["keywords_mr"] == "कचरा, घंटागाडी"


def test_every_roster_mistake_at_once_with_its_line(tmp_path):
    text = ROSTER_YAML + """\
  - code: fire-brigade
    name_en: Fire Brigade
    head: chief.fire@mahapalika.example
  - code: WS
    name_en: Water Supply (copy)
    head: hod.ws@mahapalika.example
  - code: HLT
    name_en: Health
    head: hod health at mahapalika
    nodal_officers: [ok.nodal@mahapalika.example, "nodal2@mahapalika"]
  - code: EDU
    name_mr: शिक्षण
    keywords_en: education
    hashtags: {tag: "#Shiksha"}
"""
    path = tmp_path / "departments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_roster_file(path)
    expected = [
        f"{path}:{_line(text, 'code: fire-brigade')}: department code 'FIRE-BRIGADE' must be 2-10 "
        "capital letters or digits, e.g. SWM",
        f"{path}:{_line(text, 'code: WS', 2)}: department code WS appears twice (first on line "
        f"{_line(text, 'code: WS')}), keep one",
        f"{path}:{_line(text, 'head: hod health')}: HLT: head 'hod health at mahapalika' is not an "
        "e-mail address",
        f"{path}:{_line(text, 'nodal2@')}: HLT: nodal officer 'nodal2@mahapalika' is not an e-mail address",
        f"{path}:{_line(text, 'code: EDU')}: department EDU needs an English name (name_en)",
        f"{path}:{_line(text, 'hashtags: {tag')}: EDU: hashtags must be a list",
    ]
    assert str(caught.value) == f"{path}: {len(expected)} problems: " + "; ".join(expected)


def test_a_roster_without_a_departments_list(tmp_path):
    path = tmp_path / "departments.yaml"
    path.write_text("# the cell's roster\ndepartment:\n  - code: SWM\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"departments\.yaml:2: the roster needs a 'departments:' list"):
        load_roster_file(path)


def test_a_missing_roster_file(tmp_path):
    with pytest.raises(ConfigError, match="department roster not found"):
        load_roster_file(tmp_path / "nowhere.yaml")


# -- the Departments tab ------------------------------------------------------------------


def test_a_bad_row_in_the_departments_tab_is_skipped_and_named():
    rows = [
        (2, {"code": "SWM", "name_en": "Solid Waste", "hashtags": "#SwachhMahanagar, #Kachra",
             "keywords_mr": "कचरा; घंटागाडी", "head": "hod.swm@mahapalika.example"}),
        (3, {"code": "Roads Dept", "name_en": "Roads"}),
        (4, {"code": "", "name_en": "", "head": " "}),  # an empty row: nothing to say
        (5, {"code": "WS", "name_en": "Water", "nodal_officers": "a@mahapalika.example, not-an-email"}),
        (6, {"code": "swm", "name_en": "Solid Waste (copy)"}),
        (7, {"code": "FIRE", "name_en": "Fire Brigade", "accounts": "x:MahanagarFire"}),
    ]
    roster, warnings = roster_from_rows(rows, "Departments")
    assert [d.code for d in roster] == ["SWM", "FIRE"]
    assert roster.get("SWM").hashtags == ("#SwachhMahanagar", "#Kachra")
    assert roster.get("SWM").keywords_mr == ("कचरा", "घंटागाडी")
    assert warnings == [
        "Departments row 3: department code 'ROADS DEPT' must be 2-10 capital letters or digits, "
        "e.g. SWM; row ignored until fixed",
        "Departments row 5: WS: nodal officer 'not-an-email' is not an e-mail address; row ignored "
        "until fixed",
        "Departments row 6: department code SWM is also on row 2; the job uses row 2, delete the copy",
    ]
    assert roster.route("#Kachra") == ("SWM", "hashtag #Kachra")


# -- the shipped roster -------------------------------------------------------------------

SHIPPED = ROOT / "sheets_sync" / "data" / "departments.yaml"


@pytest.mark.skipif(not SHIPPED.exists(), reason="departments.yaml is not in the repository yet")
def test_the_shipped_roster_has_the_56_departments_of_the_order():
    roster = load_roster_file(SHIPPED)
    assert len(roster) == 56
    assert all(d.name_en and d.name_mr and d.head for d in roster)


def test_a_typo_in_the_departments_tab_warns_and_the_sync_goes_on(tmp_path, roster_file):
    import openpyxl

    from sheets_sync.backends.xlsx import XlsxBackend
    from sheets_sync.sources import FileSource
    from sheets_sync.sync import init_tracker, run_sync
    from tests.helpers import comment, post, write_export

    backend = XlsxBackend(tmp_path / "tracker.xlsx")
    init_tracker(backend, SCHEMA, roster_file)
    wb = openpyxl.load_workbook(backend.path)
    ws = wb["Departments"]
    ws["A3"] = "Water!"                       # WS's code mistyped on row 3
    ws.append(["SWM", "Solid Waste (copy)"])  # a copied row: row 5
    wb.save(backend.path)
    folder = write_export(tmp_path / "export", [post("P1", "कचरा"), post("P2", "पाणीपुरवठा बंद")],
                          [comment("C1", "P1")])
    result = run_sync(backend, [FileSource(folder)], SCHEMA, roster_path=roster_file, now=NOW)
    assert result.plan.warnings == [
        "Departments row 3: department code 'WATER!' must be 2-10 capital letters or digits, e.g. SWM; "
        "row ignored until fixed",
        "Departments row 5: department code SWM is also on row 2; the job uses row 2, delete the copy",
    ]
    assert result.summary()["per_department"] == {"SWM": {"posts": 1, "comments": 1},
                                                  "Unassigned": {"posts": 1, "comments": 0}}
