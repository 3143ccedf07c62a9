"""Where cron runs: nothing on stderr but errors, nothing at all with --quiet, and --version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import sheets_sync
from tests.helpers import comment, post, write_export

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-26T12:00:00+05:30"


@pytest.fixture
def export(tmp_path):
    posts = [post("P1", "घंटागाडी वेळापत्रक #SwachhMahanagar"), post("P2", "Happy Diwali 🪔", platform="x")]
    comments = [comment("C1", "P1", "घंटागाडी आली नाही 😡"), comment("C4", "NOPE", "on an unknown post")]
    return write_export(tmp_path / "export", posts, comments)


def invoke(args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def test_version_prints_the_package_version():
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"sheets-sync {sheets_sync.__version__}\n"
    assert sheets_sync.__version__ == version("sheets-sync")


def test_quiet_prints_nothing_on_success_for_every_command(export, tmp_path, roster_file):
    tracker = tmp_path / "tracker.xlsx"
    common = ["--tracker", tracker, "--roster", roster_file]
    commands = [
        ["init", *common],
        ["init", *common],  # nothing to do: still silent
        ["sync", *common, "--source", f"files:{export}", "--as-of", AS_OF],
        ["sync", *common, "--source", f"files:{export}", "--as-of", AS_OF, "--dry-run"],
        ["tabs", *common, "--as-of", AS_OF],
        ["overdue", *common, "--as-of", AS_OF],
        ["report", *common, "--as-of", AS_OF, "--html", tmp_path / "report.html"],
        ["sources", "check", "--source", f"files:{export}"],
    ]
    for args in commands:
        result = invoke(["--quiet", *args])
        assert result.exit_code == 0, (args, result.output, result.stderr)
        assert (result.stdout, result.stderr) == ("", ""), args
    assert (tmp_path / "report.html").exists()


def test_quiet_still_prints_errors(tmp_path):
    result = invoke(["--quiet", "sources", "check", "--source", f"files:{tmp_path / 'nowhere'}"])
    assert result.exit_code != 0
    assert result.stdout + result.stderr != ""


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHEETS_SYNC")}
    env["PYTHONPATH"] = str(ROOT)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-W", "default", str(ROOT / "cli.py"), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _as_libreoffice_saves_it(path: Path) -> None:
    """Add to every sheet the extension list LibreOffice and Excel write (x14 parts openpyxl
    does not model), and write print areas as whole columns ($A:$J) as they do: openpyxl
    warns about both on every load."""
    ext = ('<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
           'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
           '<x14:dataValidations count="0"/></ext></extLst>')
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = data.replace(b"</worksheet>", ext.encode() + b"</worksheet>")
            if item.filename == "xl/workbook.xml":
                data = re.sub(rb"(_xlnm\.Print_Area[^>]*>[^<]*!\$[A-Z]+)\$1:(\$[A-Z]+)\$1048576", rb"\1:\2",
                              data)
                assert b"!$A:$" in data  # (the job's print areas, as the suites write them)
            dst.writestr(item, data)
    tmp.replace(path)


def test_no_library_warning_reaches_stderr(export, tmp_path, roster_file):
    """The README's commands, with Python showing every warning, on a workbook as an office
    suite saves it: stderr stays empty (cron mails whatever lands there)."""
    common = ["--tracker", "tracker.xlsx", "--roster", roster_file]
    first = _run(["init", *common], tmp_path)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    _as_libreoffice_saves_it(tmp_path / "tracker.xlsx")
    for args in (["sync", *common, "--source", f"files:{export}", "--as-of", AS_OF],
                 ["overdue", *common, "--as-of", AS_OF],
                 ["report", *common, "--as-of", AS_OF, "--html", "report.html"]):
        result = _run(args, tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stderr == "", (args, result.stderr)
        if args[0] == "sync":  # the print area openpyxl dropped on its load is set again
            with zipfile.ZipFile(tmp_path / "tracker.xlsx") as saved:
                assert b"'Comments'!$A$1:$" in saved.read("xl/workbook.xml")
