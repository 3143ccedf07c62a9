"""``python -m sheets_sync.testing.fake_sheets``: the fake on a port, ready to try.

It makes what a newcomer would otherwise have to know how to make: a spreadsheet,
a service-account key the fake trusts (Google checks a key's signature, and so
does the fake: only a key made by the fake's own process is known to it), and
the spreadsheet shared with that key; then it prints the commands to run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .fake_sheets import FakeSheetsServer
from .fake_sheets_auth import make_service_account_key

JOB = "job@test-project.iam.gserviceaccount.com"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sheets_sync.testing.fake_sheets",
        description="Local fake of the Google Sheets API v4 (for tests and demos).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--key", default="fake-key.json", metavar="PATH",
                        help="where to write the key the job uses (default: %(default)s)")
    parser.add_argument("--spreadsheet", metavar="TITLE", default="Tracker",
                        help="title of the spreadsheet made at start-up (default: %(default)s)")
    parser.add_argument("--owner", default="owner@example.com",
                        help="owner of the spreadsheet (default: %(default)s)")
    parser.add_argument("--share", action="append", default=[], metavar="EMAIL",
                        help="share it with EMAIL as writer too (repeatable); the key's "
                             "account always is")
    args = parser.parse_args(argv)
    server = FakeSheetsServer(port=args.port, host=args.host).start()
    key = Path(args.key)
    make_service_account_key(JOB, server.token_uri, key)
    key.chmod(0o600)
    sid = server.create_spreadsheet(args.spreadsheet, args.owner)
    for email in [JOB, *args.share]:
        server.share(sid, email, "writer")
    print(f"fake Google Sheets API listening on {server.url}\n"
          f"spreadsheet {args.spreadsheet!r} id={sid}, owned by {args.owner}, shared with {JOB}\n"
          f"key for {JOB}: {key} (valid for this fake only, while it runs)\n"
          "\nin another terminal, from the project's folder:\n"
          f"  export SHEETS_SYNC_API_ENDPOINT={server.url}\n"
          f"  export GOOGLE_APPLICATION_CREDENTIALS={key.resolve()}\n"
          f"  python cli.py init --tracker {sid}\n"
          f"  python cli.py sync --tracker {sid}\n"
          f"  curl {server.url}/_fake/requests    # what the job sent\n"
          "\nCtrl-C stops it.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
