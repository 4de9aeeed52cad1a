"""Only the front-end files the templates load are served, from node_modules, and a
missing node_modules (before `npm ci`) is not a warning in every command."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from config.staticfiles import VENDOR_FILES, VendorFinder, vendor_paths

STATIC_TAG = re.compile(r"""\{%\s*static\s+['"](vendor/[^'"]+)['"]\s*%\}""")
SOURCE_MAP = re.compile(r"^//# sourceMappingURL=(\S+)$", re.MULTILINE)


def _loaded_by_templates():
    loaded = set()
    for template in (Path(settings.BASE_DIR) / "templates").rglob("*.html"):
        loaded.update(STATIC_TAG.findall(template.read_text()))
    return loaded


def _listed():
    return {storage.prefix + "/" + path for path, storage in VendorFinder().list(None)}


def test_the_finder_lists_exactly_the_files_the_templates_load():
    loaded = _loaded_by_templates()
    assert "vendor/codemirror/lib/codemirror.js" in loaded
    assert "vendor/chartjs/chart.umd.min.js" in loaded
    # A loaded script's source map is collected too: the manifest storage follows the reference.
    maps = set()
    for path in loaded:
        source = vendor_paths()[path]
        maps.update(f"{path.rsplit('/', 1)[0]}/{name}" for name in SOURCE_MAP.findall(source.read_text()))
    assert _listed() == loaded | maps


def test_every_listed_file_exists_in_node_modules():
    missing = [str(source) for source in vendor_paths().values() if not source.is_file()]
    assert not missing, f"Not in node_modules: {missing}. Run `make install` (npm ci)."


def test_files_are_found_under_static_vendor_and_nothing_else_from_node_modules():
    assert finders.find("vendor/codemirror/lib/codemirror.css") == str(
        Path(settings.NODE_MODULES_DIR) / "codemirror" / "lib" / "codemirror.css"
    )
    # In the packages, but not loaded by any template: not served.
    assert finders.find("vendor/codemirror/mode/python/python.js") is None
    assert finders.find("vendor/chartjs/chart.js") is None
    assert not any("node_modules" in str(directory) for directory in settings.STATICFILES_DIRS)


def test_collectstatic_copies_only_the_listed_files(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    copied = {str(path.relative_to(tmp_path / "static")) for path in (tmp_path / "static" / "vendor").rglob("*")}
    copied = {path for path in copied if (tmp_path / "static" / path).is_file()}
    assert copied == {f"{prefix}/{name}" for prefix, (_, names) in VENDOR_FILES.items() for name in names}


@pytest.fixture
def no_node_modules(settings, tmp_path):
    """As on a fresh clone before `npm ci`, running `make run`'s development settings."""
    settings.NODE_MODULES_DIR = tmp_path / "node_modules"
    settings.DEBUG = True


def test_before_npm_ci_check_is_clean(no_node_modules):
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    assert "no issues" in out.getvalue()
    assert "W004" not in err.getvalue() and not err.getvalue()
    assert finders.find("vendor/codemirror/lib/codemirror.js") is None


def test_before_npm_ci_deploy_check_and_collectstatic_say_to_run_make_install(no_node_modules, settings, tmp_path):
    err = StringIO()
    call_command("check", deploy=True, tags=["staticfiles"], stdout=StringIO(), stderr=err)
    assert "config.W002" in err.getvalue() and "make install" in err.getvalue()
    settings.STATIC_ROOT = tmp_path / "static"
    with pytest.raises(ImproperlyConfigured, match="make install"):
        call_command("collectstatic", interactive=False, verbosity=0)
