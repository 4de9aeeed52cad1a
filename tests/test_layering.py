"""The import contracts in .importlinter: today's code keeps them, and a backwards import breaks them.

lint-imports reads the code without importing it, so each test runs it in a subprocess: once on
the repository itself, and once on a copy of the product's packages with one bad import added.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["accounts", "notifications", "config", "connections", "builder", "syncs", "dashboards", "sandbox"]
LAYERS = "Apps import only the apps below them (connections <- builder <- syncs <- dashboards)"
PURE = "The pure modules import no Django and no models"
CONFIG = "config imports no app, except its URL map"
SANDBOX = "sandbox imports nothing from the product"


def _lint_imports(cwd):
    script = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run(
        [str(script), "--no-cache", "--no-logo", "--config", str(cwd / ".importlinter")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_every_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.fixture
def product_copy(tmp_path):
    """The product's packages (Python files only) and the real contracts, in tmp_path."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_not_python)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _not_python(directory, names):
    return [name for name in names if not name.endswith(".py") and not (Path(directory) / name).is_dir()]


@pytest.mark.parametrize(
    ("module", "line", "contract", "chain"),
    [
        # A lower app reaching up the layers.
        (
            "connections/backwards.py",
            "from dashboards import queries",
            LAYERS,
            "connections.backwards -> dashboards.queries",
        ),
        (
            "builder/backwards.py",
            "from syncs.models import SyncRun",
            LAYERS,
            "builder.backwards -> syncs.models",
        ),
        # notifications sits under every app but accounts; accounts and config under every app.
        (
            "notifications/models.py",
            "from connections.models import Connection",
            LAYERS,
            "notifications.models -> connections.models",
        ),
        (
            "accounts/roles.py",
            "from notifications.models import notify",
            LAYERS,
            "accounts.roles -> notifications.models",
        ),
        (
            "accounts/roles.py",
            "from connections.models import Connection",
            LAYERS,
            "accounts.roles -> connections.models",
        ),
        (
            "config/celery.py",
            "from syncs import tasks",
            CONFIG,
            "config.celery -> syncs.tasks",
        ),
        # A pure module importing Django, directly or through another module.
        (
            "builder/transform.py",
            "from django.conf import settings",
            PURE,
            "builder.transform -> django",
        ),
        (
            "builder/timeframes.py",
            "from builder import forms",
            PURE,
            "builder.timeframes -> builder.forms",
        ),
        (
            "notifications/text.py",
            "from notifications.models import Notification",
            PURE,
            "notifications.text -> notifications.models",
        ),
        # The simulator reaching into the product.
        (
            "sandbox/data.py",
            "from connections.errors import MASK",
            SANDBOX,
            "sandbox.data -> connections.errors",
        ),
    ],
)
def test_a_backwards_import_breaks_its_contract(product_copy, module, line, contract, chain):
    path = product_copy / module
    source = path.read_text() if path.exists() else ""
    path.write_text(source + f"\n{line}  # noqa\n")

    result = _lint_imports(product_copy)

    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert f"{contract} BROKEN" in out
    assert chain in out
    # The copy keeps the other contracts: only the added line broke anything.
    assert "3 kept, 1 broken" in out
