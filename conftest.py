"""Project-wide fixtures: users in each role, and settings every test shares.

The sandbox fixtures live in tests/conftest.py.
"""

import collections
import os

import pytest

# Playwright's sync API keeps an event loop in the test thread; Django would
# otherwise refuse ORM calls made from that thread by the live server fixtures.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"


def pytest_terminal_summary(terminalreporter):
    """One line before pytest's own closing line: what was skipped and how to run it.

    Every skip reason in this suite says what is missing and how to enable it.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons = collections.Counter(report.longrepr[2].removeprefix("Skipped: ") for report in skipped)
    parts = [f"{count} × {reason}" for reason, count in reasons.most_common()]
    terminalreporter.write_line(f"Skipped {len(skipped)} test(s): " + "; ".join(parts), yellow=True)


def pytest_sessionfinish(session, exitstatus):
    """With FORBID_SKIPS (CI), a run that skipped anything is not green."""
    from config.env import env_bool

    if not env_bool("FORBID_SKIPS", False) or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write("\n")
        reporter.write_line(f"FORBID_SKIPS is set and {len(skipped)} test(s) were skipped: failing the run.", red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # The sandbox listens on loopback; tests of the egress rules turn this off again.
    settings.ALLOW_PRIVATE_HOSTS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # PBKDF2 costs half a second a user on a CI machine; what is tested here is who may do what.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _make_user(username, role=None, **extra):
    from tests.factories import UserFactory

    return UserFactory(username=username, role=role, **extra)


@pytest.fixture
def admin_user(db):
    return _make_user("ada", role="admin", email="ada@example.com")


@pytest.fixture
def analyst_user(db):
    return _make_user("alan", role="analyst", email="alan@example.com")


@pytest.fixture
def outsider_user(db):
    """Signed in, but in neither role."""
    return _make_user("olga")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def _database_url(db):
    """A DATABASE_URL for the test database, so a worker process uses the same one."""
    from urllib.parse import quote

    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the configured broker and the test database.

    Tasks go to a queue of this test session only, so a developer's own running
    worker never takes them. Tests using it need committed data (transactional_db).
    """
    import subprocess
    import sys
    import time
    import uuid

    from django.conf import settings

    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:10]}"
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(settings.DATABASES["default"]),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "ALLOW_PRIVATE_HOSTS": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--concurrency=1"]
    command += ["--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    process.log_path = log_path
    yield process
    app.conf.task_default_queue = previous_queue
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def free_port():
    """A loopback port nothing listens on (bound, then released): a server that is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=30.0, interval=0.2):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Condition not met within {timeout} s")
