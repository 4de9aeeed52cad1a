from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from accounts.roles import is_admin, is_member
from builder.models import Metric
from connections import tasks
from connections.models import Connection
from dashboards.management.commands import seed_demo
from dashboards.models import Databoard
from syncs.tasks import backfill_metric


def _sign_in():
    """The request sign-in throttling (django-axes) needs with every authenticate() call."""
    return RequestFactory().post("/accounts/login/")


def test_seed_demo_prints_working_passwords_and_adds_the_sandbox_connection(
    transactional_db, capsys, settings, monkeypatch
):
    # The worker tests the connection and backfills the metrics once it is up; here, only
    # record the hand-over.
    queued, backfills = [], []
    monkeypatch.setattr(tasks.test_connection, "delay", queued.append)
    monkeypatch.setattr(backfill_metric, "delay", backfills.append)
    call_command("seed_demo")
    out = capsys.readouterr().out
    admin_password = out.split("Admin:   admin   / ")[1].split()[0]
    analyst_password = out.split("Analyst: analyst / ")[1].split()[0]
    admin = authenticate(_sign_in(), username="admin", password=admin_password)
    analyst = authenticate(_sign_in(), username="analyst", password=analyst_password)
    assert admin is not None and is_admin(admin)
    assert analyst is not None and is_member(analyst) and not is_admin(analyst)

    connection = Connection.objects.get(name="Vtiger sandbox")
    assert connection.base_url == settings.SANDBOX_URL + "/restapi/v1/vtiger/default"
    assert connection.get_secret("access_key")
    assert queued == [connection.pk]

    # A few pre-built metrics on the Metrics screen, two of them on a databoard.
    on_screen = Metric.objects.filter(uses__kind="screen")
    assert on_screen.count() == len(seed_demo.DEMO_METRICS)
    assert all(metric.connection == connection for metric in on_screen)
    board = Databoard.objects.get(name=seed_demo.DEMO_DATABOARD)
    assert board.tiles.count() == 2
    assert board.owner == analyst, "the demo analyst may rearrange the demo board"
    assert sorted(backfills) == sorted(m.pk for m in on_screen if m.date_mode == "field")

    # Running it again keeps the connection and gives new passwords that work.
    call_command("seed_demo")
    again = capsys.readouterr().out
    assert Connection.objects.count() == 1
    assert Metric.objects.count() == len(seed_demo.DEMO_METRICS)
    new_password = again.split("Admin:   admin   / ")[1].split()[0]
    assert new_password != admin_password
    assert authenticate(_sign_in(), username="admin", password=new_password) is not None
