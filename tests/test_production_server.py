"""The production setup as the README gives it: `check --deploy` clean with its settings, and
gunicorn with DEBUG off serving the login page and a collected static file."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.utils import get_random_secret_key

from conftest import _database_url, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
# Not handed down from the test process: the root conftest sets DJANGO_ALLOW_ASYNC_UNSAFE for
# Playwright (a production process must not have it: async.E001); the rest are the README's.
NOT_INHERITED = ("DJANGO_ALLOW_ASYNC_UNSAFE", "ALLOW_PRIVATE_HOSTS", "SECURE_COOKIES", "DEBUG")


def readme_production_settings():
    """{name: value} of the first `export` block in the README's "Running in production"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Running in production\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)[1]
    values = {}
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "export" and len(words) == 2, f"Not a plain `export NAME=value`: {line!r}"
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def _generated_secret(name):
    if name == "SECRET_KEY":
        return get_random_secret_key()
    if name == "FIELD_ENCRYPTION_KEYS":
        return Fernet.generate_key().decode()
    return "not-a-real-secret"


def production_environment(tmp_path, **overrides):
    """The README's settings, each secret file replaced by a generated one, in throw-away folders."""
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    for name, value in readme_production_settings().items():
        if name.endswith("_FILE"):
            path = tmp_path / name.lower()
            path.write_text(_generated_secret(name.removesuffix("_FILE")))
            value = str(path)
        env[name] = value
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOCAL_DIR": str(tmp_path / "local"),
            "STATIC_ROOT": str(tmp_path / "static"),
            **overrides,
        }
    )
    return env


def _run(command, env):
    result = subprocess.run(
        [sys.executable, "manage.py", *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_check_deploy_is_clean_with_the_readme_production_settings(tmp_path):
    settings_ = readme_production_settings()
    assert settings_["DEBUG"] == "false"
    assert {"SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER"} <= settings_.keys()
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], production_environment(tmp_path))
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_warns_without_the_https_settings(tmp_path):
    env = production_environment(tmp_path)
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        del env[name]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


@pytest.fixture
def gunicorn(django_db_setup, tmp_path):
    """gunicorn on config.wsgi with the README's settings, DEBUG off, on the test database."""
    port = free_port()
    env = production_environment(
        tmp_path, ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=_database_url(settings.DATABASES["default"])
    )
    _run(["collectstatic", "--no-input", "--verbosity", "0"], env)
    log_path = tmp_path / "gunicorn.log"
    command = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    # No control socket: it lives in the home folder, shared by every gunicorn of the user.
    command += ["--workers", "2", "--no-control-socket", "--access-logfile", "-"]
    command += ["--timeout", "120"]  # a worker booting slowly on a loaded machine is not hung
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def answering():
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            return requests.get(f"{base}/accounts/login/", timeout=30, allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout):  # still booting (a loaded machine is slow)
            return None

    try:
        wait_for(answering, timeout=180)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_serves_the_login_page_and_its_static_files(gunicorn):
    # As the TLS-terminating proxy in front would send it.
    https = {"X-Forwarded-Proto": "https"}
    page = requests.get(f"{gunicorn}/accounts/login/", headers=https, timeout=30, allow_redirects=False)
    assert page.status_code == 200
    assert '<form method="post"' in page.text and 'name="password"' in page.text
    assert "csrfmiddlewaretoken" in page.text
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    # DEBUG is off: the page names the hashed file names of the manifest.
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, page.text
    static = requests.get(gunicorn + stylesheet[1], headers=https, timeout=30, allow_redirects=False)
    assert static.status_code == 200
    assert static.headers["Content-Type"].startswith("text/css")
    assert ".CodeMirror" in static.text
    script = re.search(r'src="(/static/[^"]+\.js)"', page.text)
    assert script, page.text
    assert (
        requests.get(gunicorn + script[1], headers=https, timeout=30)
        .headers["Content-Type"]
        .startswith("text/javascript")
    )


def test_gunicorn_redirects_plain_http_and_refuses_unknown_hosts(gunicorn):
    plain = requests.get(f"{gunicorn}/accounts/login/", timeout=30, allow_redirects=False)
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://127.0.0.1")
    other_host = requests.get(
        f"{gunicorn}/accounts/login/", headers={"Host": "evil.example", "X-Forwarded-Proto": "https"}, timeout=30
    )
    assert other_host.status_code == 400
