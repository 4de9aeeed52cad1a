"""What the builder tests share: the real Vtiger 8.2 responses recorded in ``shared/``."""

import json
from pathlib import Path

import pytest

# CI runs a fresh clone with a copy of shared/ beside it, so shared/ is a sibling of the repo root.
VTIGER_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "vtiger-8.2"


def vtiger_fixture(name):
    """One recorded response, parsed; a clear failure when shared/ is not beside the repository."""
    if not VTIGER_FIXTURES.is_dir():
        pytest.fail(f"The recorded Vtiger responses are missing: {VTIGER_FIXTURES} (shared/ beside the repository).")
    return json.loads((VTIGER_FIXTURES / name).read_text())
