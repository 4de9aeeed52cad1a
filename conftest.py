"""Project-wide fixtures: users in each role, and settings every test shares.

The sandbox fixtures live in tests/conftest.py.
"""

import os

import pytest

# Playwright's sync API keeps an event loop in the test thread; Django would
# otherwise refuse ORM calls made from that thread by the live server fixtures.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # The sandbox listens on loopback; tests of the egress rules turn this off again.
    settings.ALLOW_PRIVATE_HOSTS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Serve static files straight from static/ (no collectstatic in tests).
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _make_user(django_user_model, username, role=None, **extra):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(db, django_user_model):
    return _make_user(django_user_model, "ada", role="admin", email="ada@example.com")


@pytest.fixture
def analyst_user(db, django_user_model):
    return _make_user(django_user_model, "alan", role="analyst", email="alan@example.com")


@pytest.fixture
def outsider_user(db, django_user_model):
    """Signed in, but in neither role."""
    return _make_user(django_user_model, "olga")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client
