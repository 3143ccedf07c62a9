"""Small builders for export folders and trackers used across the tests."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

POST_HEADER = ["platform", "post_id", "posted_at", "text", "url", "department"]
COMMENT_HEADER = ["platform", "comment_id", "post_id", "parent_id", "author", "author_id",
                  "commented_at", "text", "url", "by_page"]

ROSTER_YAML = """\
departments:
  - code: SWM
    name_en: Solid Waste Management
    name_mr: घनकचरा व्यवस्थापन
    head: hod.swm@mahapalika.example
    nodal_officers: [swm.nodal@mahapalika.example]
    hashtags: ["#SwachhMahanagar"]
    keywords_en: [garbage, waste]
    keywords_mr: [कचरा, घंटागाडी]
  - code: WS
    name_en: Water Supply
    name_mr: पाणीपुरवठा
    head: hod.ws@mahapalika.example
    hashtags: ["#PaniPuravatha"]
    keywords_en: [water supply, pipeline]
    keywords_mr: [पाणीपुरवठा, जलवाहिनी]
    keywords_hi: [पानी]
  - code: ROADS
    name_en: Roads
    name_mr: रस्ते
    head: hod.roads@mahapalika.example
    keywords_en: [pothole, footpath]
    keywords_mr: [खड्डे, रस्ता]
"""


def post(pid, text="कचरा संकलन वेळापत्रक #SwachhMahanagar", *, platform="facebook",
         at="2026-11-20T10:00:00+05:30", department=""):
    return {"platform": platform, "post_id": pid, "posted_at": at, "text": text,
            "url": f"https://www.facebook.com/mahanagar/posts/{pid}", "department": department}


def comment(cid, pid, text="घंटागाडी आली नाही 😡", *, platform="facebook", parent="",
            at="2026-11-20T11:00:00+05:30", by_page=False, author="सुनीता पाटील"):
    return {"platform": platform, "comment_id": cid, "post_id": pid, "parent_id": parent,
            "author": author, "author_id": "1000" + cid[-3:], "commented_at": at, "text": text,
            "url": f"https://www.facebook.com/mahanagar/posts/{pid}?comment_id={cid}",
            "by_page": "true" if by_page else ""}


def write_export(folder: Path, posts: list[dict], comments: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, header, rows in (("posts.csv", POST_HEADER, posts),
                               ("comments.csv", COMMENT_HEADER, comments)):
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
    return folder


def write_roster(path: Path, text: str = ROSTER_YAML) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def init_tracker(tracker, roster_file=None, env=None) -> None:
    """Make a tracker the way the README says, ``python cli.py init``: only init (and the
    first default sync) makes a workbook; a sync given a path that does not exist stops."""
    from click.testing import CliRunner

    import cli

    args = ["init", "--tracker", str(tracker), *(["--roster", str(roster_file)] if roster_file else [])]
    result = CliRunner().invoke(cli.main, args, catch_exceptions=False, env=env)
    assert result.exit_code == 0, result.output
