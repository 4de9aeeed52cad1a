"""No module of the product imports one that imports it back, directly or through others.

Each file's imports point one way (issue 12): the Connection model finds its integration in the
catalogue (connections.integrations), which imports no integration; the sync tasks import the
runner, never the other way round; the expression box and transform share builder.jsonata_eval.
grimp, the import graph under lint-imports, reads the code without running it and counts
imports inside functions too, so a lazy import that hides a cycle is found as well.

Each test reads a tree in a subprocess: the repository's, or a copy with one import added
(the packages in this process are already imported, and grimp would find those).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "config", "connections", "notifications", "builder", "syncs", "dashboards", "sandbox")

FIND_CYCLES = f"""
import json, grimp
graph = grimp.build_graph(*{PACKAGES!r}, cache_dir=None)
print(json.dumps(sorted(
    [module, imported]
    for module in graph.modules
    for imported in graph.find_modules_directly_imported_by(module)
    if graph.find_shortest_chain(importer=imported, imported=module)
)))
"""


def import_cycles(tree):
    """[importer, imported] for every direct import in `tree`'s packages that leads back to its importer."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, "-c", FIND_CYCLES], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_product_has_no_import_cycle():
    assert import_cycles(ROOT) == []


def _copy(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))


def test_a_lazy_import_of_an_integration_from_the_model_is_a_cycle(tmp_path):
    _copy(tmp_path)
    models = tmp_path / "connections" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\ndef vtiger_form():\n    from connections.integrations import vtiger_cloud\n\n"
        + "    return vtiger_cloud.VtigerCloudForm\n"
    )
    assert ["connections.models", "connections.integrations.vtiger_cloud"] in import_cycles(tmp_path)


def test_a_runner_that_queues_its_own_task_is_a_cycle(tmp_path):
    _copy(tmp_path)
    runner = tmp_path / "syncs" / "runner.py"
    runner.write_text(
        runner.read_text()
        + "\n\ndef queue(pk):\n    from syncs.tasks import backfill_metric\n\n    backfill_metric.delay(pk)\n"
    )
    assert ["syncs.runner", "syncs.tasks"] in import_cycles(tmp_path)
