"""sheet_schema.yaml: the shipped one loads; a broken one gets every problem at once,
each with the line to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from sheets_sync.errors import ConfigError
from sheets_sync.schema import DEFAULT_SCHEMA, REQUIRED_FIELDS, load_schema

SHIPPED = DEFAULT_SCHEMA.read_text(encoding="utf-8")


def test_the_shipped_schema_loads():
    schema = load_schema()
    assert schema.path == DEFAULT_SCHEMA and schema.timezone == "Asia/Kolkata"
    assert set(REQUIRED_FIELDS) <= set(schema.tabs)
    assert [schema.tab(n).title for n in ("posts", "comments", "departments", "sync_log")] == [
        "Posts", "Comments", "Departments", "Sync Log"]
    assert schema.default_status == "Pending" and schema.status("pending").open
    assert not schema.status("Replied").open
    # The order's four kinds of message, findable by their Marathi names too.
    assert schema.category("तक्रार").name == "complaint"
    assert {c.name for c in schema.categories} == {"complaint", "question", "remark", "comment"}
    comments = schema.tab("comments")
    assert comments.key == ("platform", "comment_id")
    people = {c.field for c in comments.columns if c.owner == "people"}
    assert {"status", "reply", "replied_by", "notes"} <= people
    assert comments.column("text").job_writes and comments.column("due_at").job_writes
    for tab in schema.tabs.values():
        assert set(REQUIRED_FIELDS.get(tab.name, [])) <= {c.field for c in tab.columns}


def _line_of(text: str, fragment: str, *, after: str | None = None) -> int:
    """1-based number of the first line holding ``fragment`` (after the line holding ``after``)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, ln in enumerate(lines) if after in ln) + 1
    return next(i for i in range(start, len(lines)) if fragment in lines[i]) + 1


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


DUPLICATE_HEADER = "header: '  author ',"


def _broken_schema() -> str:
    text = SHIPPED
    # 1. the first status (given to new comments) is not open
    text = _replace(text, "  - name: Pending\n    open: true", "  - name: Pending\n    open: false")
    # 2. an owner nobody knows
    text = _replace(text, "{field: routed_by, header: Routed by, owner: job,",
                    "{field: routed_by, header: Routed by, owner: robot,")
    # 3. a required field missing: the Posts tab loses its Link column
    text = _replace(text, "      - {field: url, header: Link, owner: job, width: 220}\n"
                          "      - {field: added_at, header: Added at (IST), owner: job, width: 130}\n"
                          "  comments:",
                    "      - {field: added_at, header: Added at (IST), owner: job, width: 130}\n"
                    "  comments:")
    # 4. a header given twice in one tab (case and spaces do not make it different)
    text = _replace(text, "{field: author_id, header: Author ID,", "{field: author_id, " + DUPLICATE_HEADER)
    # 5. a width that is not a number of pixels
    text = _replace(text, "{field: notes, header: Notes, marathi: नोंदी, owner: people, width: 200,",
                    "{field: notes, header: Notes, marathi: नोंदी, owner: people, width: wide,")
    # 6. a tab missing altogether
    text = re.sub(r"(?m)^  sync_state:\n(?:^(?:    .*)?\n)*", "", text)
    # 7. a status given twice
    text = _replace(text, "  - name: Escalated\n", "  - name: replied\n")
    return text


def test_every_problem_is_reported_at_once_with_its_line(tmp_path):
    path = tmp_path / "sheet_schema.yaml"
    text = _broken_schema()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schema(path)
    message = str(caught.value)
    assert "\n" not in message
    expected = [
        f"{path}:{_line_of(text, 'open: false')}: the first status ('Pending') is given to new comments "
        "and must be open: true",
        f"{path}:{_line_of(text, '- name: replied')}: status 'replied' appears twice (first on line "
        f"{_line_of(text, '- name: Replied')})",
        f"{path}:{_line_of(text, 'tabs:')}: tab 'sync_state' is missing",
        f"{path}:{_line_of(text, 'columns:', after='  posts:')}: tab 'posts' needs a column with "
        "field 'url'",
        f"{path}:{_line_of(text, 'owner: robot')}: column 'routed_by' of tab 'posts': owner must be "
        "'job' or 'people', not 'robot'",
        f"{path}:{_line_of(text, 'width: wide')}: column 'notes': width must be a whole number of "
        "pixels, 20 to 2000",
        f"{path}:{_line_of(text, DUPLICATE_HEADER)}: header 'author' in tab 'comments' appears "
        f"twice (first on line {_line_of(text, 'header: Author,')})",
    ]
    assert message == f"{path}: {len(expected)} problems: " + "; ".join(expected)


def test_cli_exits_2_with_all_the_problems(tmp_path, roster_file):
    path = tmp_path / "sheet_schema.yaml"
    path.write_text(_broken_schema(), encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["sync", "--schema", str(path), "--tracker",
                                           str(tmp_path / "t.xlsx"), "--roster", str(roster_file)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {path}: 7 problems: {path}:")
    assert len(re.findall(re.escape(str(path)) + r":\d+: ", line)) == 7
    assert "Traceback" not in result.output
    assert not (tmp_path / "t.xlsx").exists()


def test_a_key_given_twice_is_reported_not_silently_overwritten(tmp_path):
    path = tmp_path / "s.yaml"
    # A second "comments:" tab, pasted in by mistake, would silently replace the first.
    text = SHIPPED.replace("  departments:\n", "  comments:\n    title: Replies\n    columns: []\n"
                                               "  departments:\n", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schema(path)
    first = _line_of(text, "  comments:")
    second = _line_of(text, "  comments:", after="  comments:")
    assert (f"{path}:{second}: 'comments' is given twice (also on line {first}), keep only one"
            in str(caught.value))


@pytest.mark.parametrize("text, line, message", [
    ("statuses:\n  - name: Pending\n\topen: true\n", 3, "found character '\\t' that cannot start any token"),
    ("statuses: [Pending, Replied\ntabs: {}\n", 2,
     "expected ',' or ']', but got ':' (while parsing a flow sequence that starts on line 1)"),
    ("tabs:\n  posts: {title: Posts, columns: [\n  comments: {}\n", 4,
     "expected ',' or ']', but got '<stream end>' (while parsing a flow sequence that starts on line 2)"),
])
def test_invalid_yaml_names_its_line(tmp_path, text, line, message):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schema(path)
    assert str(caught.value).startswith(f"{path}:{line}: schema is not valid YAML: {message}")


@pytest.mark.parametrize("text, message", [
    ("", ":1: the schema must be a mapping with 'tabs', 'statuses', 'categories'"),
    ("- just\n- a list\n", ":1: the schema must be a mapping with 'tabs', 'statuses', 'categories'"),
])
def test_a_schema_that_is_not_a_mapping(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}{message}")):
        load_schema(path)


def test_missing_schema_file(tmp_path):
    with pytest.raises(ConfigError, match="schema not found; pass the right path or restore the file"):
        load_schema(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize("old, new, fragment, message", [
    ("title: Comments", "title: Comments/Replies", "title: Comments/Replies",
     "tab title 'Comments/Replies' has a character or length a spreadsheet refuses"),
    ("{field: status, header: Status, marathi: स्थिती, owner: people, seed: true,",
     "{field: status, header: Status, marathi: स्थिती, owner: people, seed: true,", None, None),
    ("{field: platform, header: Platform, owner: job, width: 90}\n      - {field: post_id",
     "{field: platform, header: Platform, owner: job, seed: true, width: 90}\n      - {field: post_id",
     "seed: true, width: 90}", "column 'platform': 'seed' only applies to people-owned columns"),
    ("    reply_within_hours: 72", "    reply_within_hours: -1", "reply_within_hours: -1",
     "category 'remark': reply_within_hours must be a positive number of hours"),
    ("    key: [platform, comment_id]", "    key: [platform, commentid]", "key: [platform, commentid]",
     "tab 'comments': key must list fields of its columns"),
    ("timezone: Asia/Kolkata", "timezone: UTC", "timezone: UTC",
     "timezone 'UTC' is not supported; use Asia/Kolkata"),
    ("{field: post_id, header: Post ID, owner: job, width: 170}\n      - {field: posted_at",
     "{field: Post-ID, header: Post ID, owner: job, width: 170}\n      - {field: posted_at",
     "field: Post-ID", "column 2 of tab 'posts': 'field' must be a lower-case name like post_id"),
])
def test_single_mistakes_point_at_their_line(tmp_path, old, new, fragment, message):
    text = _replace(SHIPPED, old, new)
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    if message is None:  # a control: the unchanged line is fine
        assert load_schema(path).tab("comments").column("status").seed
        return
    with pytest.raises(ConfigError) as caught:
        load_schema(path)
    assert f"{path}:{_line_of(text, fragment)}: {message}" in str(caught.value)


def test_headers_match_without_case_or_spaces():
    from sheets_sync.schema import normalize_header

    assert normalize_header("  Reply   due (IST) ") == normalize_header("reply due (ist)")
    assert normalize_header("विभाग") == "विभाग"


def test_schema_path_in_messages_is_the_one_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text("statuses: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schema("s.yaml")
    assert str(caught.value) == "s.yaml: 2 problems: s.yaml:1: missing 'tabs'; s.yaml:1: missing 'categories'"
