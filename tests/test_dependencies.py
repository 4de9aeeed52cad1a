"""The lock files agree with the lists people edit: a pin changed without `make lock` fails here."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path):
    """{name: version} of the `name==version` lines of a requirements or lock file (not -r includes)."""
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[_name(match[1])] = match[2]
    return pins


def _locked(path):
    """{name: (version, number of hashes)} of a lock file."""
    entries, current = {}, None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match[1])
            entries[current] = [match[2], 0]
        elif current and line.strip().startswith("--hash=sha256:"):
            entries[current][1] += 1
    return {name: tuple(entry) for name, entry in entries.items()}


@pytest.mark.parametrize(
    ("sources", "lock"),
    [
        (["requirements.txt"], "requirements.lock"),
        (["requirements.txt", "requirements-dev.txt"], "requirements-dev.lock"),
    ],
)
def test_every_pin_is_locked_at_its_version_with_hashes(sources, lock):
    locked = _locked(ROOT / lock)
    wanted = {}
    for source in sources:
        wanted.update(_pins(ROOT / source))
    assert wanted
    stale = {name: (version, locked.get(name, ("missing",))[0]) for name, version in wanted.items()}
    stale = {name: pair for name, pair in stale.items() if pair[0] != pair[1]}
    assert not stale, f"{lock} is out of date ({{name: (wanted, locked)}}: {stale}): run `make lock`."
    unhashed = [name for name, (_, hashes) in locked.items() if not hashes]
    assert not unhashed, f"{lock} has packages without hashes: {unhashed}"


def test_the_dev_lock_installs_the_production_versions():
    production = _locked(ROOT / "requirements.lock")
    development = _locked(ROOT / "requirements-dev.lock")
    differing = {
        name: (version, development.get(name, ("missing",))[0])
        for name, (version, _) in production.items()
        if development.get(name, ("missing",))[0] != version
    }
    assert not differing, f"requirements-dev.lock differs from requirements.lock: {differing}; run `make lock`."
    # urllib3 is pinned through requests: connections/egress.py overrides its private _new_conn.
    assert "urllib3" in production
