"""The front-end files the templates load, found in node_modules (npm ci) and nowhere else.

A static files finder that exposes exactly the files listed in VENDOR_FILES under
``static/vendor/...``: collectstatic copies those few instead of whole npm packages, and
nothing from node_modules is ever copied into the repository. Before `npm ci` has run the
files are simply not found: no command warns about it (Django's staticfiles.W004 came
from listing a missing node_modules directory in STATICFILES_DIRS), `check --deploy`
says what to do, and collectstatic refuses to collect a site without them.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage

# URL prefix under STATIC_URL -> (package folder in node_modules, the files used from it).
VENDOR_FILES = {
    "vendor/codemirror": (
        "codemirror",
        (
            "lib/codemirror.css",
            "lib/codemirror.js",
            "mode/javascript/javascript.js",
            "addon/edit/matchbrackets.js",
            "addon/edit/closebrackets.js",
        ),
    ),
    # The source map is named by the last line of chart.umd.min.js: the manifest storage
    # follows that reference and fails collectstatic when the file is not there.
    "vendor/chartjs": ("chart.js/dist", ("chart.umd.min.js", "chart.umd.min.js.map")),
}

MISSING_HINT = "Run `make install` (or `npm ci`) to install the front-end libraries from package-lock.json."


def vendor_paths():
    """{static path: file in node_modules} of every listed file, whether it exists or not."""
    root = Path(settings.NODE_MODULES_DIR)
    return {
        f"{prefix}/{name}": root / package / name for prefix, (package, names) in VENDOR_FILES.items() for name in names
    }


def missing_files():
    return sorted(path for path, source in vendor_paths().items() if not source.is_file())


class VendorFinder(BaseFinder):
    """Finds the files of VENDOR_FILES; settings are read on each call, so tests can move node_modules."""

    def _storages(self):
        root = Path(settings.NODE_MODULES_DIR)
        for prefix, (package, names) in VENDOR_FILES.items():
            storage = FileSystemStorage(location=root / package)
            storage.prefix = prefix
            yield storage, names

    def find(self, path, find_all=False, **kwargs):
        found = []
        source = vendor_paths().get(path)
        if source is not None and source.is_file():
            found.append(str(source))
            if not find_all:
                return found[0]
        return found if find_all else []

    def list(self, ignore_patterns):
        # Only collectstatic lists every file: without these, the pages it serves would break.
        missing = missing_files()
        if missing:
            raise ImproperlyConfigured(
                f"{len(missing)} front-end file(s) are missing from {settings.NODE_MODULES_DIR} "
                f"({', '.join(missing)}). {MISSING_HINT}"
            )
        for storage, names in self._storages():
            for name in names:
                yield name, storage


@register(Tags.staticfiles, deploy=True)
def vendor_files_installed(app_configs, **kwargs):
    """Only with --deploy: before `npm ci`, development commands and tests run without the files."""
    missing = missing_files()
    if not missing:
        return []
    return [
        Warning(
            f"{len(missing)} front-end file(s) are missing from {settings.NODE_MODULES_DIR}: {', '.join(missing)}.",
            hint=MISSING_HINT,
            id="config.W002",
        )
    ]
