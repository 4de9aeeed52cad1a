from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.roles import is_admin, is_member
from connections import tasks
from connections.models import Connection


def test_seed_demo_prints_working_passwords_and_adds_the_sandbox_connection(
    transactional_db, capsys, settings, monkeypatch
):
    # The worker tests the new connection once it is up; here, only record the hand-over.
    queued = []
    monkeypatch.setattr(tasks.test_connection, "delay", queued.append)
    call_command("seed_demo")
    out = capsys.readouterr().out
    admin_password = out.split("Admin:   admin   / ")[1].split()[0]
    analyst_password = out.split("Analyst: analyst / ")[1].split()[0]
    admin = authenticate(username="admin", password=admin_password)
    analyst = authenticate(username="analyst", password=analyst_password)
    assert admin is not None and is_admin(admin)
    assert analyst is not None and is_member(analyst) and not is_admin(analyst)

    connection = Connection.objects.get(name="Vtiger sandbox")
    assert connection.base_url == settings.SANDBOX_URL + "/restapi/v1/vtiger/default"
    assert connection.get_secret("access_key")
    assert queued == [connection.pk]

    # Running it again keeps the connection and gives new passwords that work.
    call_command("seed_demo")
    again = capsys.readouterr().out
    assert Connection.objects.count() == 1
    new_password = again.split("Admin:   admin   / ")[1].split()[0]
    assert new_password != admin_password
    assert authenticate(username="admin", password=new_password) is not None
