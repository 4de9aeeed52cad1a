"""Seed the demo that `make run` starts: two users, a connection to the sandbox, a few
pre-built metrics on the Metrics screen (their syncs and backfills start once the
worker runs) and a databoard.

It lives in the rightmost app because it touches all of them. Safe to run again:
users get fresh passwords (printed); the connection, metrics and databoard are kept.
"""

import secrets as pysecrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from accounts.roles import ADMIN, ANALYST
from builder import gallery
from builder.models import Metric
from connections import integrations, tasks
from connections.models import Connection
from dashboards.models import Databoard, Tile
from syncs.models import Use
from syncs.uses import add_use

DEMO_CONNECTION = "Vtiger sandbox"
DEMO_DATABOARD = "Sales overview"
# Gallery items put on the Metrics screen, and how the databoard shows the first ones.
DEMO_METRICS = ("new-leads", "deals-won-amount", "open-pipeline-by-stage", "open-tickets")
DEMO_TILES = (("deals-won-amount", Tile.Kind.BAR, "this_year"), ("new-leads", Tile.Kind.LINE, "last_30_days"))
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
            analyst = get_user_model().objects.get(username="analyst")
            metrics = self._metrics(connection, owner=analyst)
            self._databoard(metrics, owner=analyst)
            # The sandbox starts with the worker, after this command: let the worker test it.
            transaction.on_commit(lambda: tasks.test_connection.delay(connection.pk))

        self.stdout.write("")
        login_url = settings.SITE_URL.rstrip("/") + reverse("login")
        self.stdout.write(self.style.SUCCESS(f"Metric Builder demo is ready. Log in at {login_url} with:"))
        self.stdout.write(f"  Admin:   admin   / {admin_password}")
        self.stdout.write(f"  Analyst: analyst / {analyst_password}")
        verb = "Created" if created else "Kept"
        self.stdout.write(f"{verb} the connection “{DEMO_CONNECTION}” to the Vtiger sandbox at {settings.SANDBOX_URL};")
        self.stdout.write("the worker tests it as soon as it starts (Data Manager shows the result).")
        self.stdout.write(
            f"Metrics screen: {', '.join(m.name for m in metrics.values())} (syncing once the worker runs)."
        )
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

    def _metrics(self, connection, owner):
        """The demo metrics by gallery slug, created on first run and kept on the Metrics screen."""
        metrics = {}
        for slug in DEMO_METRICS:
            name = gallery.get(slug).definition["name"]
            metric = Metric.objects.filter(name=name).first() or gallery.create_metric(slug, connection, owner=owner)
            add_use(metric, Use.Kind.SCREEN)
            metrics[slug] = metric
        return metrics

    def _databoard(self, metrics, owner):
        # The analyst's databoard, like the metrics: the analyst may rearrange it (owner or admin).
        databoard, created = Databoard.objects.get_or_create(name=DEMO_DATABOARD, defaults={"owner": owner})
        if created:
            for slug, kind, date_range in DEMO_TILES:
                databoard.add_tile(metrics[slug], kind, date_range)
