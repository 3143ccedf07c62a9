"""A real install (a wheel, not the checkout) runs the README's main job from any folder:
the shipped schema, roster and sample exports are package data."""

import subprocess
import sys
import zipfile

import openpyxl

from tests.conftest import ROOT


def test_the_wheel_runs_the_main_job_from_another_folder(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True, cwd=tmp_path)
    wheel = next(dist.glob("sheets_sync-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "sheets_sync/data/sheet_schema.yaml" in names and "sheets_sync/py.typed" in names
    assert "cli.py" not in names  # no top-level module besides the package
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([sys.executable, "-c", "import sheets_sync; print(sheets_sync.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site))
    done = subprocess.run([sys.executable, "-m", "sheets_sync", "sync"], cwd=elsewhere, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "comment(s)" in done.stdout
    book = openpyxl.load_workbook(elsewhere / "tracker.xlsx")
    assert {"Posts", "Comments", "Departments"} <= set(book.sheetnames)
    assert book["Comments"].max_row > 1
