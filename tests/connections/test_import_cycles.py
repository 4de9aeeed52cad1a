"""No module of connections imports one that imports it back, directly or through others.

The Connection model finds its integration in the catalogue (connections.integrations), which
imports no integration; the integrations import the model; ConnectionsConfig.ready() registers
them. grimp, the import graph under lint-imports, reads the code without running it and counts
imports inside functions too, so a lazy import that hides a cycle is found as well.

Each test reads a tree in a subprocess: the repository's, or a copy with one import added
(the package in this process is already imported, and grimp would find that one).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FIND_CYCLES = """
import json, grimp
graph = grimp.build_graph("connections", cache_dir=None)
print(json.dumps(sorted(
    [module, imported]
    for module in graph.modules
    for imported in graph.find_modules_directly_imported_by(module)
    if graph.find_shortest_chain(importer=imported, imported=module)
)))
"""


def import_cycles(tree):
    """[importer, imported] for every direct import in `tree`'s connections that leads back to its importer."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, "-c", FIND_CYCLES], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_connections_has_no_import_cycle():
    assert import_cycles(ROOT) == []


def test_a_lazy_import_of_an_integration_from_the_model_is_a_cycle(tmp_path):
    shutil.copytree(ROOT / "connections", tmp_path / "connections", ignore=shutil.ignore_patterns("__pycache__"))
    models = tmp_path / "connections" / "models.py"
    models.write_text(
        models.read_text()
        + "\n\ndef vtiger_form():\n    from connections.integrations import vtiger_cloud\n\n"
        + "    return vtiger_cloud.VtigerCloudForm\n"
    )
    assert ["connections.models", "connections.integrations.vtiger_cloud"] in import_cycles(tmp_path)
