"""The real Vtiger 8.2 responses recorded in tests/fixtures/vtiger-8.2 (see its README)."""

import json
from pathlib import Path

VTIGER_RECORDINGS = Path(__file__).with_name("fixtures") / "vtiger-8.2"


def recorded(name):
    """One recorded response body, parsed."""
    return json.loads((VTIGER_RECORDINGS / name).read_text(encoding="utf-8"))
