"""Seed the demo that `make run` starts: two users and a connection to the sandbox.

Safe to run again: users get fresh passwords (printed), the connection is kept.
"""

import secrets as pysecrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import ADMIN, ANALYST
from connections import integrations, tasks
from connections.models import Connection

DEMO_CONNECTION = "Vtiger sandbox"
# The sandbox's demo credentials (sandbox/README.md); they open nothing but the simulator.
SANDBOX_USERNAME = "demo"
SANDBOX_ACCESS_KEY = "s4ndb0xDem0Key16"


class Command(BaseCommand):
    help = "Create the demo admin and analyst (printing their passwords) and a connection to the Vtiger sandbox."

    def handle(self, *args, **options):
        with transaction.atomic():
            admin_password = self._user("admin", ADMIN, is_staff=True, is_superuser=True)
            analyst_password = self._user("analyst", ANALYST)
            connection, created = self._connection()
            # The sandbox starts with the worker, after this command: let the worker test it.
            transaction.on_commit(lambda: tasks.test_connection.delay(connection.pk))

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Metric Builder demo is ready. Log in at http://127.0.0.1:8000 with:"))
        self.stdout.write(f"  Admin:   admin   / {admin_password}")
        self.stdout.write(f"  Analyst: analyst / {analyst_password}")
        verb = "Created" if created else "Kept"
        self.stdout.write(f"{verb} the connection “{DEMO_CONNECTION}” to the Vtiger sandbox at {settings.SANDBOX_URL};")
        self.stdout.write("the worker tests it as soon as it starts (Data Manager shows the result).")
        self.stdout.write("")

    def _user(self, username, role, **flags):
        password = pysecrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=username, defaults=flags)
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        return password

    def _connection(self):
        existing = Connection.objects.filter(name=DEMO_CONNECTION).first()
        if existing:
            return existing, False
        integration = integrations.get(Connection.Integration.VTIGER)
        form = integration.form_class(
            {
                "name": DEMO_CONNECTION,
                "subdomain": "demo",
                "username": SANDBOX_USERNAME,
                "access_key": SANDBOX_ACCESS_KEY,
                "plan": "enterprise",
                "instance_url": settings.SANDBOX_URL,
            }
        )
        if not form.is_valid():
            raise ValueError(f"The demo connection form is invalid: {form.errors.as_text()}")
        connection = Connection(integration=integration.slug)
        integration.apply(connection, form.cleaned_data)
        connection.save()
        return connection, True
