"""Bad input: one line naming the file, the line and the column, the right exit code,
and the tracker exactly as it was (compared byte for byte after a first good sync)."""

from __future__ import annotations

import json
import os

import openpyxl
import pytest
from click.testing import CliRunner
from filelock import FileLock

import cli
from tests.helpers import COMMENT_HEADER, POST_HEADER, comment, digest, init_tracker, post, write_export
from tests.trackers import english_header, records

AS_OF = "2026-11-26T12:00:00+05:30"
GOOD_POSTS = [post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar"),
              post("P2", "रस्त्यावरील खड्डे", platform="youtube")]
GOOD_COMMENTS = [comment("C1", "P1"), comment("C2", "P2", "कधी? 🙏", platform="youtube")]


def invoke(folder, tracker, roster_file):
    args = ["sync", "--source", f"files:{folder}", "--tracker", str(tracker), "--roster",
            str(roster_file), "--as-of", AS_OF]
    return CliRunner().invoke(cli.main, args, catch_exceptions=False)


@pytest.fixture
def tracker(tmp_path, roster_file):
    """A tracker after a good first sync."""
    path = tmp_path / "tracker.xlsx"
    init_tracker(path, roster_file)
    good = write_export(tmp_path / "good", GOOD_POSTS, GOOD_COMMENTS)
    assert invoke(good, path, roster_file).exit_code == 0
    return path


def csv_lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


POSTS_HEAD = ",".join(POST_HEADER)
COMMENTS_HEAD = ",".join(COMMENT_HEADER)
POST_P1 = "facebook,P1,2026-11-20T10:00:00+05:30,कचरा #SwachhMahanagar,https://fb.example/P1,"
COMMENT_C1 = "facebook,C1,P1,,सुनीता,1001,2026-11-20T11:00:00+05:30,घंटागाडी आली नाही,https://fb.example/C1,"


def export_dir(tmp_path, posts: str | bytes | None = None, comments: str | bytes | None = None,
               name: str = "bad", posts_file: str = "posts.csv", comments_file: str = "comments.csv"):
    folder = tmp_path / name
    folder.mkdir()
    for file_name, content in ((posts_file, posts), (comments_file, comments)):
        if content is None:
            continue
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / file_name).write_bytes(data)
    return folder


def assert_rejected(result, tracker, before, code, message):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [f"Error: {message}"]
    assert "Traceback" not in result.output
    assert digest(tracker) == before


# (name, posts.csv, comments.csv, the file at fault, the rest of the message)
CASES = [
    ("missing column in posts.csv",
     csv_lines("platform,post_id,text,url,department", "facebook,P1,x,u,"), None,
     "posts.csv", " line 1: missing column 'posted_at'; the header must be "
                  "platform,post_id,posted_at,text,url,department"),
    ("missing column in comments.csv",
     csv_lines(POSTS_HEAD, POST_P1),
     csv_lines("platform,comment_id,post_id,parent_id,author,author_id,text,url",
               "facebook,C1,P1,,a,1,x,u"),
     "comments.csv", " line 1: missing column 'commented_at'; the header must be " + COMMENTS_HEAD),
    ("malformed date",
     csv_lines(POSTS_HEAD, POST_P1, "facebook,P2,2026-13-45T10:00:00+05:30,x,u,"), None,
     "posts.csv", " line 3: column 'posted_at': '2026-13-45T10:00:00+05:30' is not a valid date and "
                  "time (month must be in 1..12); write e.g. 2026-11-20T10:15:00+05:30"),
    ("date without offset",
     csv_lines(POSTS_HEAD, POST_P1),
     csv_lines(COMMENTS_HEAD, "facebook,C1,P1,,a,1,2026-11-20T11:00:00,x,u,"),
     "comments.csv", " line 2: column 'commented_at': '2026-11-20T11:00:00' has no UTC offset "
                     "(write e.g. 2026-11-20T10:15:00+05:30)"),
    ("unknown platform",
     csv_lines(POSTS_HEAD, POST_P1, "orkut,P2,2026-11-20T10:00:00+05:30,x,u,"), None,
     "posts.csv", " line 3: column 'platform': unknown platform 'orkut'; use one of facebook, "
                  "instagram, youtube, x"),
    ("empty post_id",
     csv_lines(POSTS_HEAD, POST_P1, "facebook, ,2026-11-20T10:00:00+05:30,x,u,"), None,
     "posts.csv", " line 3: column 'post_id' is empty; every row needs one"),
    ("empty comment_id",
     csv_lines(POSTS_HEAD, POST_P1), csv_lines(COMMENTS_HEAD, COMMENT_C1.replace(",C1,", ",,")),
     "comments.csv", " line 2: column 'comment_id' is empty; every row needs one"),
    ("a comma in unquoted text: wrong field count",
     csv_lines(POSTS_HEAD, POST_P1),
     csv_lines(COMMENTS_HEAD, COMMENT_C1,
               "facebook,C2,P1,,a,2,2026-11-20T11:00:00+05:30,पाणी नाही, कधी येणार?,u,"),
     "comments.csv", " line 3: has 11 fields, the header has 10; check the quoting and the commas"),
    ("a stray quote after a quoted cell",
     csv_lines(POSTS_HEAD, POST_P1, 'facebook,P2,2026-11-20T10:00:00+05:30,"quoted" then not,u,'), None,
     "posts.csv", " line 3: ',' expected after '\"'; check the quoting"),
    ("an unclosed quote is named where it opens",
     csv_lines(POSTS_HEAD, POST_P1, 'facebook,P2,2026-11-20T10:00:00+05:30,"never closed,u,',
               "facebook,P3,2026-11-20T10:00:00+05:30,x,u,", "facebook,P4,2026-11-20T10:00:00+05:30,x,u,"),
     None, "posts.csv", " line 3: a quoted cell is never closed (unexpected end of data) (the record "
                        "runs to line 5); check the quoting"),
    ("a record after a multi-line cell is named by its first line",
     csv_lines(POSTS_HEAD, 'facebook,P1,2026-11-20T10:00:00+05:30,"line one\nline two",u,',
               "facebook,P2,2026-11-20T10:00:00+05:30,x,u,", "x,P3,yesterday,x,u,"), None,
     "posts.csv", " line 5: column 'posted_at': 'yesterday' has no UTC offset "
                  "(write e.g. 2026-11-20T10:15:00+05:30)"),
    ("by_page that is neither true nor false",
     csv_lines(POSTS_HEAD, POST_P1), csv_lines(COMMENTS_HEAD, COMMENT_C1[:-1] + ",maybe"),
     "comments.csv", " line 2: column 'by_page': 'maybe' is not true or false"),
    ("a column given twice",
     csv_lines(POSTS_HEAD + ",text", POST_P1 + ",again"), None,
     "posts.csv", " line 1: column 'text' appears twice"),
    ("no posts file",
     None, csv_lines(COMMENTS_HEAD, COMMENT_C1), "", ": no posts.csv or posts.jsonl in the export folder"),
]


@pytest.mark.parametrize("posts, comments, at_fault, message",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_export_is_refused_and_changes_nothing(tmp_path, tracker, roster_file, posts, comments,
                                                   at_fault, message):
    before = digest(tracker)
    folder = export_dir(tmp_path, posts, comments)
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3, f"{folder / at_fault if at_fault else folder}{message}")


def test_not_utf8_names_line_and_column(tmp_path, tracker, roster_file):
    before = digest(tracker)
    # Saved by Excel as "CSV (Comma delimited)": Windows-1252, not UTF-8.
    good_row = "facebook,P1,2026-11-20T10:00:00+05:30,Garbage timings,u,"
    bad_row = "facebook,P2,2026-11-20T10:00:00+05:30,Café in Ward 5,u,"
    folder = export_dir(tmp_path, csv_lines(POSTS_HEAD, good_row, bad_row).encode("cp1252"))
    column = bad_row.index("é") + 1
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3,
                    f"{folder / 'posts.csv'} line 3, column {column}: not UTF-8 text (byte 0xe9); "
                    "save the file as UTF-8 (Excel: CSV UTF-8)")


def test_excel_csv_utf8_with_bom_is_read(tmp_path, roster_file):
    folder = export_dir(tmp_path, "\ufeff" + csv_lines(POSTS_HEAD, POST_P1),
                        "\ufeff" + csv_lines(COMMENTS_HEAD, COMMENT_C1))
    init_tracker(tmp_path / "new.xlsx", roster_file)
    result = invoke(folder, tmp_path / "new.xlsx", roster_file)
    assert result.exit_code == 0, result.output
    assert "Added 1 post(s) and 1 comment(s)" in result.stdout


def test_conflicting_duplicate_ids_name_both_lines(tmp_path, tracker, roster_file):
    before = digest(tracker)
    folder = write_export(tmp_path / "dup", [post("P1")],
                          [comment("C1", "P1"), comment("C1", "P1"), comment("C1", "P1", "changed")])
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3,
                    f"{folder / 'comments.csv'} line 4: comment id 'C1' (facebook) appears again with "
                    f"different values (first at {folder / 'comments.csv'} line 2); keep one")


def test_exact_repeats_and_same_id_on_two_platforms_are_fine(tmp_path, roster_file):
    folder = write_export(tmp_path / "rep", [post("P1"), post("P1"), post("P1", platform="x")],
                          [comment("C1", "P1"), comment("C1", "P1"), comment("C1", "P1", platform="x")])
    init_tracker(tmp_path / "new.xlsx", roster_file)
    result = invoke(folder, tmp_path / "new.xlsx", roster_file)
    assert result.exit_code == 0
    assert "Added 2 post(s) and 2 comment(s)" in result.stdout


def test_both_csv_and_jsonl_is_refused(tmp_path, tracker, roster_file):
    before = digest(tracker)
    folder = write_export(tmp_path / "both", [post("P1")], [])
    (folder / "posts.jsonl").write_text(json.dumps(post("P1")) + "\n", encoding="utf-8")
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3, f"{folder}: both posts.csv and posts.jsonl exist; keep one")


# -- JSON Lines -----------------------------------------------------------------

JSONL_POSTS = [post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar"),
               post("P2", "Happy Diwali 🪔 दिवाळीच्या शुभेच्छा", platform="x", department="ROADS")]
JSONL_COMMENTS = [
    comment("C1", "P1", "घंटागाडी ३ दिवस आली नाही 😡"),
    comment("C2", "P1", "आम्ही तपासतो", parent="C1", by_page=True),
    comment("C3", "P2", "=HYPERLINK(\"http://evil.example\")", platform="x"),
    comment("C4", "P2", "line one\nline two, \"quoted\"\u2028after a line separator", platform="x"),
    comment("C5", "P2", "", platform="x"),
]


def _jsonl(records_: list[dict]) -> str:
    out = []
    for rec in records_:
        rec = dict(rec)
        if "by_page" in rec:  # JSON has real booleans
            rec["by_page"] = rec["by_page"] == "true"
        out.append(json.dumps(rec, ensure_ascii=False))
    return "\n".join(out) + "\n"


def _tabs(path):
    wb = openpyxl.load_workbook(path)
    tabs = {t: [[str(v) if v is not None else "" for v in row] for row in wb[t].iter_rows(values_only=True)]
            for t in ("Posts", "Comments", "Departments")}
    # Columns named by their English headers, as the tests do (trackers.english_header).
    return {t: [[english_header(h) for h in rows[0]], *rows[1:]] for t, rows in tabs.items()}


def test_jsonl_gives_the_same_tracker_as_csv(tmp_path, roster_file):
    csv_folder = write_export(tmp_path / "as_csv", JSONL_POSTS, JSONL_COMMENTS)
    jsonl_folder = export_dir(tmp_path, _jsonl(JSONL_POSTS), _jsonl(JSONL_COMMENTS), name="as_jsonl",
                              posts_file="posts.jsonl", comments_file="comments.jsonl")
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    init_tracker(a, roster_file)
    init_tracker(b, roster_file)
    assert invoke(csv_folder, a, roster_file).exit_code == 0
    result = invoke(jsonl_folder, b, roster_file)
    assert result.exit_code == 0, result.output
    assert "Added 2 post(s) and 5 comment(s)" in result.stdout
    assert _tabs(a) == _tabs(b)
    texts = {r["Comment ID"]: r["Comment"] for r in records(_tabs(b)["Comments"])}
    assert texts["C4"] == "line one\nline two, \"quoted\"\u2028after a line separator"


def test_jsonl_broken_line_names_line_and_column(tmp_path, tracker, roster_file):
    before = digest(tracker)
    broken = '{"platform": "facebook", "comment_id": C9}'
    lines = _jsonl(JSONL_COMMENTS[:2]) + broken + "\n"
    folder = export_dir(tmp_path, _jsonl(JSONL_POSTS), lines, posts_file="posts.jsonl",
                        comments_file="comments.jsonl")
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3, f"{folder / 'comments.jsonl'} line 3, column "
                                                f"{broken.index('C9') + 1}: not valid JSON (Expecting value)")


@pytest.mark.parametrize("line, message", [
    ('["facebook", "P9"]', "line 2: each line must be a JSON object {...}"),
    ('{"platform": "facebook", "post_id": "P9", "text": "x", "url": "u"}',
     "line 2: missing field 'posted_at'"),
    ('{"platform": "facebook", "post_id": {"id": "P9"}, "posted_at": "2026-11-20T10:00:00+05:30", '
     '"text": "x", "url": "u"}',
     "line 2: field 'post_id' must be text, a number or true/false, not an object"),
    ('{"platform": "facebook", "post_id": "P9", "posted_at": "2026-11-20T10:00:00+05:30", '
     '"text": ["x"], "url": "u"}',
     "line 2: field 'text' must be text, a number or true/false, not a list"),
])
def test_jsonl_records_of_the_wrong_shape(tmp_path, tracker, roster_file, line, message):
    before = digest(tracker)
    folder = export_dir(tmp_path, _jsonl(JSONL_POSTS[:1]) + line + "\n", posts_file="posts.jsonl")
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3, f"{folder / 'posts.jsonl'} {message}")



# A JSON escape of half a UTF-16 surrogate pair with no other half: JSON parsers accept
# it, but it is not a character, and no sheet (nor UTF-8) can hold it.
LONE_SURROGATE = "bad \\ud800"  # as the file spells it: backslash, u, d800
SURROGATE_MESSAGE = ("field 'text': character 5 is \\ud800, half of a UTF-16 surrogate pair and not a "
                     "character; write the pair whole (e.g. \\ud83d\\ude4f for 🙏) or remove it, then "
                     "export again")


def _with_lone_surrogate(records_: list[dict]) -> str:
    """The records as JSON Lines, the last one's text holding a lone surrogate escape."""
    lines = _jsonl(records_).splitlines()
    last = json.loads(lines[-1])
    last["text"] = "@@"
    lines[-1] = json.dumps(last, ensure_ascii=False).replace("@@", LONE_SURROGATE)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("stem", ["posts", "comments"])
def test_jsonl_lone_surrogate_is_bad_input_naming_the_line(tmp_path, tracker, roster_file, stem):
    before = digest(tracker)
    posts, comments = _jsonl(JSONL_POSTS), _jsonl(JSONL_COMMENTS[:2])
    if stem == "posts":
        posts = _with_lone_surrogate(JSONL_POSTS)
    else:
        comments = _with_lone_surrogate(JSONL_COMMENTS[:2])
    folder = export_dir(tmp_path, posts, comments, posts_file="posts.jsonl", comments_file="comments.jsonl")
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3, f"{folder / (stem + '.jsonl')} line 2: {SURROGATE_MESSAGE}")


def test_jsonl_lone_surrogate_leaves_either_tracker_as_it_was(tmp_path, harness, roster_file, monkeypatch):
    for k, v in harness.env.items():
        monkeypatch.setenv(k, v)
    init_tracker(harness.tracker_arg, roster_file)
    good = write_export(tmp_path / "good", GOOD_POSTS, GOOD_COMMENTS)
    assert invoke(good, harness.tracker_arg, roster_file).exit_code == 0
    tabs = ("Posts", "Comments", "Departments", "Sync Log", "Sync State")
    before = {t: harness.values(t) for t in tabs}
    # A new comment (C3): its text would be written, so it must be whole.
    comments = _with_lone_surrogate([*GOOD_COMMENTS, comment("C3", "P1")])
    folder = export_dir(tmp_path, _jsonl(GOOD_POSTS), comments, posts_file="posts.jsonl",
                        comments_file="comments.jsonl")
    result = invoke(folder, harness.tracker_arg, roster_file)
    assert result.exit_code == 3, result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: {folder / 'comments.jsonl'} line 3: {SURROGATE_MESSAGE}"]
    assert {t: harness.values(t) for t in tabs} == before


# -- the tracker itself -----------------------------------------------------------


def test_corrupt_workbook_exits_4_and_is_left_alone(tmp_path, roster_file):
    path = tmp_path / "tracker.xlsx"
    junk = os.urandom(4096)
    path.write_bytes(junk)
    folder = write_export(tmp_path / "good", GOOD_POSTS, GOOD_COMMENTS)
    result = invoke(folder, path, roster_file)
    assert result.exit_code == 4
    assert result.stderr.strip().splitlines() == [
        f"Error: {path}: not a readable .xlsx workbook (BadZipFile); restore it from a backup, or move "
        "it away and run `python cli.py init` for a new one"]
    assert path.read_bytes() == junk
    # Nothing but the workbook and the (empty) lock files of the run.
    assert {p.name for p in tmp_path.glob("*.xlsx*")} <= {"tracker.xlsx", "tracker.xlsx.lock",
                                                          "tracker.xlsx.run.lock"}


def test_workbook_open_in_libreoffice_exits_4(tmp_path, tracker, roster_file):
    before = digest(tracker)
    (tmp_path / ".~lock.tracker.xlsx#").write_text("Sunita,SMC-PC,sunita,26.11.2026 10:02;")
    result = invoke(tmp_path / "good", tracker, roster_file)
    assert result.exit_code == 4
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {tracker}: the workbook is open in LibreOffice or Excel "
                           "(.~lock.tracker.xlsx# exists)")
    assert digest(tracker) == before


def test_workbook_open_in_excel_exits_4(tmp_path, tracker, roster_file):
    before = digest(tracker)
    (tmp_path / "~$tracker.xlsx").write_bytes(b"\x00" * 162)
    result = invoke(tmp_path / "good", tracker, roster_file)
    assert result.exit_code == 4
    assert "open in LibreOffice or Excel (~$tracker.xlsx exists)" in result.stderr
    assert digest(tracker) == before


def test_another_run_holding_the_lock_exits_6(tmp_path, tracker, roster_file):
    before = digest(tracker)
    folder = write_export(tmp_path / "more", GOOD_POSTS, [*GOOD_COMMENTS, comment("C3", "P1")])
    with FileLock(str(tracker) + ".lock"):
        result = invoke(folder, tracker, roster_file)
    assert result.exit_code == 6
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {tracker}: another sheets-sync run ")
    assert "this run changed nothing, try again when it ends" in line
    assert digest(tracker) == before
    assert "Added 0 post(s) and 1 comment(s)" in invoke(folder, tracker, roster_file).stdout


def test_export_folder_that_does_not_exist_exits_3(tmp_path, tracker, roster_file):
    before = digest(tracker)
    result = invoke(tmp_path / "no-such-folder", tracker, roster_file)
    assert_rejected(result, tracker, before, 3,
                    f"{tmp_path / 'no-such-folder'}: export folder not found; pass --source files:DIR")


def test_comment_on_an_unknown_post_is_held_and_named(tmp_path, tracker, roster_file):
    folder = write_export(tmp_path / "held", GOOD_POSTS,
                          [*GOOD_COMMENTS, comment("C7", "P404", "पोस्ट कुठे आहे?")])
    result = invoke(folder, tracker, roster_file)
    assert result.exit_code == 0 and result.stderr == ""
    assert "Held back 1 comment(s):" in result.stdout
    assert (f"{folder / 'comments.csv'} line 4: comment C7 is on post P404 (facebook), which is not in "
            "the tracker or the export; it will be added once its post is") in result.stdout
    # Once its post is exported, the held comment is added.
    later = write_export(tmp_path / "later", [*GOOD_POSTS, post("P404", "कचरा")],
                         [*GOOD_COMMENTS, comment("C7", "P404", "पोस्ट कुठे आहे?")])
    again = invoke(later, tracker, roster_file)
    assert "Added 1 post(s) and 1 comment(s)" in again.stdout and "Held back" not in again.stdout


def test_a_mistyped_optional_column_is_a_warning_not_silence(tmp_path, roster_file):
    folder = export_dir(tmp_path, csv_lines("platform,post_id,posted_at,text,url,Dept",
                                            "facebook,P1,2026-11-20T10:00:00+05:30,Notice,u,ROADS"))
    init_tracker(tmp_path / "new.xlsx", roster_file)
    result = invoke(folder, tmp_path / "new.xlsx", roster_file)
    assert result.exit_code == 0
    assert (f"Warning: {folder / 'posts.csv'} line 1: column 'dept' ignored; the columns read are "
            "platform,post_id,posted_at,text,url,department") in result.stdout
    assert "Unassigned" in result.stdout


@pytest.mark.parametrize("stem", ["posts", "comments"])
def test_semicolon_separated_csv_is_named_as_such(tmp_path, tracker, roster_file, stem):
    """Excel in many locales saves "CSV" with ';' between fields: said so, with how to save it."""
    before = digest(tracker)
    posts = csv_lines(POSTS_HEAD, POST_P1)
    comments = csv_lines(COMMENTS_HEAD, COMMENT_C1)
    if stem == "posts":
        posts = csv_lines(";".join(POST_HEADER), POST_P1.replace(",", ";"))
    else:
        comments = csv_lines(";".join(f'"{h}"' for h in COMMENT_HEADER), COMMENT_C1.replace(",", ";"))
    folder = export_dir(tmp_path, posts, comments)
    result = invoke(folder, tracker, roster_file)
    assert_rejected(result, tracker, before, 3,
                    f"{folder / f'{stem}.csv'} line 1: the file looks ';'-separated (as Excel saves CSV "
                    "in many locales), but an export must be separated by commas; save it again as "
                    "'CSV UTF-8 (Comma delimited)' in Excel, or as Text CSV with field delimiter ',' "
                    "and character set UTF-8 in LibreOffice")


def test_a_comma_csv_with_semicolons_in_its_text_is_read(tmp_path, roster_file):
    folder = export_dir(tmp_path, csv_lines(POSTS_HEAD, POST_P1.replace("कचरा", "कचरा; पाणी;")),
                        csv_lines(COMMENTS_HEAD, COMMENT_C1.replace("आली नाही", "आली; नाही")))
    init_tracker(tmp_path / "new.xlsx", roster_file)
    result = invoke(folder, tmp_path / "new.xlsx", roster_file)
    assert result.exit_code == 0, result.output
