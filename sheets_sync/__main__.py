"""``python -m sheets_sync …``: the same program as ``sheets-sync`` and ``python cli.py``."""

from sheets_sync.cli import main

main()
