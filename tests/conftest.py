import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = []
import os  # noqa: E402  TEMP while helpers work

for _plugin in ("tests.fake_sheets_fixtures", "tests.platform_fixtures", "tests.mail_fixtures"):
    if _plugin not in os.environ.get("SKIP_PLUGINS", ""):
        pytest_plugins.append(_plugin)


@pytest.fixture
def roster_file(tmp_path):
    from tests.helpers import write_roster

    return write_roster(tmp_path / "departments.yaml")


BACKENDS = ["xlsx", "google"]


@pytest.fixture(params=BACKENDS)
def harness(request, tmp_path):
    """A tracker on each backend: every engine test runs against both."""
    if request.param == "xlsx":
        from tests.trackers import XlsxHarness

        return XlsxHarness(tmp_path)
    from tests.trackers import GoogleHarness

    return GoogleHarness.make(request, tmp_path)
