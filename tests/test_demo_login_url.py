"""`make run` prints the login URL where the site really is: WEB_PORT, or SITE_URL when set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from connections import tasks
from syncs.tasks import backfill_metric

ROOT = Path(__file__).resolve().parent.parent


def _site_url(**env):
    environ = {name: value for name, value in os.environ.items() if name not in ("SITE_URL", "WEB_PORT")}
    command = [sys.executable, "-c", "from django.conf import settings; print(settings.SITE_URL)"]
    environ.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="true", **env)
    return subprocess.run(command, env=environ, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_the_site_url_follows_web_port_unless_set():
    assert _site_url() == "http://127.0.0.1:8000"
    assert _site_url(WEB_PORT="8100") == "http://127.0.0.1:8100"
    assert _site_url(WEB_PORT="8100", SITE_URL="https://metrics.example.com") == "https://metrics.example.com"


@pytest.mark.parametrize(
    ("site_url", "printed"),
    [
        ("http://127.0.0.1:8100", "http://127.0.0.1:8100/accounts/login/"),
        ("https://metrics.example.com/", "https://metrics.example.com/accounts/login/"),
    ],
)
def test_seed_demo_prints_the_login_url_of_the_site(transactional_db, capsys, settings, monkeypatch, site_url, printed):
    monkeypatch.setattr(tasks.test_connection, "delay", lambda pk: None)
    monkeypatch.setattr(backfill_metric, "delay", lambda pk: None)
    settings.SITE_URL = site_url
    call_command("seed_demo")
    assert f"Log in at {printed} with:" in capsys.readouterr().out
