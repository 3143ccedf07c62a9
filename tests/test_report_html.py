"""The HTML report's charts: a chart with nothing to show says so in words, and charts of
counts have whole-number ticks."""

from __future__ import annotations

import re

import pytest

from sheets_sync.report_html import CHARTS, COUNTS, NOTHING, chart_figure, report_html
from sheets_sync.timeutil import parse_timestamp
from tests.test_report import build_tracker, report_of


@pytest.fixture
def tracker(tmp_path, roster_file):
    return build_tracker(tmp_path, roster_file)


def _figures(page: str) -> list[str]:
    return re.findall(r"<figure.*?</figure>", page, re.S)


def test_a_chart_with_nothing_to_show_says_so(tracker):
    # A period before any comment: nothing received, no reply times; the backlog is still there.
    report = report_of(tracker, since=parse_timestamp("2026-10-01T00:00:00+05:30"),
                       until=parse_timestamp("2026-10-08T00:00:00+05:30"))
    page = report_html(report)
    figures = _figures(page)
    assert len(figures) == len(CHARTS)
    empty = [f for f in figures if 'class="empty"' in f]
    assert len(empty) == 4 and not any("<img" in f for f in empty)
    for measure in ("received", "median_reply_hours", "p90_reply_hours", "on_time_share"):
        assert NOTHING[measure].replace("'", "&#x27;") in page, measure
    assert page.count("data:image/png;base64,") == 2  # open now, overdue now
    assert NOTHING["open"] not in page and NOTHING["overdue"] not in page


def test_count_charts_have_whole_ticks(tracker):
    # One comment in the period: a default axis would go 0, 0.2, 0.4 … 1.
    report = report_of(tracker, since=parse_timestamp("2026-11-25T19:00:00+05:30"),
                       until=parse_timestamp("2026-11-25T21:00:00+05:30"))
    assert report.total.received == 1
    for measure, title in CHARTS:
        fig = chart_figure(report, measure, title)
        if measure in COUNTS:
            assert fig is not None, measure
            ticks = [t for t in fig.axes[0].get_xticks() if t >= 0]
            assert ticks and all(float(t).is_integer() for t in ticks), (measure, ticks)
            low, high = fig.axes[0].get_xlim()
            assert low == 0 and high >= 1, (measure, low, high)
