"""The README is the front door: its commands, exit codes and settings must stay true."""

from __future__ import annotations

import re
from pathlib import Path

import click

import cli
from sheets_sync import errors

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_setup_is_two_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert blocks[0].strip() == "pip install -r requirements.txt && python cli.py sync"
    assert blocks[1].strip() == "pip install -r requirements-dev.txt && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -r requirements-dev.txt && python -m pytest" in ci
    assert "python3 -m venv" in ci


def test_every_command_is_documented_with_an_example():
    def walk(group, prefix):
        for name, command in group.commands.items():
            full = f"{prefix} {name}".strip()
            if isinstance(command, click.Group):
                yield from walk(command, full)
            else:
                yield full, command

    for name, command in walk(cli.main, ""):
        assert f"python cli.py {name}" in README, f"README does not mention `python cli.py {name}`"
        assert "Example" in (command.help or ""), f"`{name}` --help has no example"


def test_documented_exit_codes_match_the_code():
    table = dict(re.findall(r"^\| (\d) \| ([^|]+)\|", README, flags=re.M))
    for cls in (errors.ConfigError, errors.InputError, errors.TrackerError, errors.SourceError,
                errors.Busy, errors.DeliveryError):
        assert str(cls.exit_code) in table, cls
    assert "source" in table["5"] and "another run" in table["6"] and "bad input" in table["3"]


def test_documented_settings_exist_in_the_code():
    files = [ROOT / "cli.py", *ROOT.glob("sheets_sync/**/*.py")]
    code = "\n".join(p.read_text(encoding="utf-8") for p in files)
    for name in sorted(set(re.findall(r"`(SHEETS_SYNC_[A-Z_]+)`", README))):
        assert name in code, f"README documents {name}, which no code reads"
