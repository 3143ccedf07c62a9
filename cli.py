"""``python cli.py …`` from a checkout: the same program as the installed ``sheets-sync``."""

from sheets_sync.cli import main

if __name__ == "__main__":
    main()
