import zoneinfo
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import UserTimezoneMiddleware
from accounts.roles import is_admin
from conftest import PASSWORD


def test_login_page_and_sign_in(client, analyst_user):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"Log in" in page.content

    response = client.post(reverse("login"), {"username": "alan", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_wrong_password_says_so(client, analyst_user):
    response = client.post(reverse("login"), {"username": "alan", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_logout_is_post_only_and_ends_the_session(analyst_client):
    assert analyst_client.get(reverse("home")).status_code == 200
    assert analyst_client.post(reverse("logout")).status_code == 302
    assert analyst_client.get(reverse("home")).status_code == 302


def test_anonymous_visitors_are_sent_to_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_roles(admin_user, analyst_user, outsider_user, django_user_model):
    assert is_admin(admin_user)
    assert not is_admin(analyst_user)
    assert not is_admin(outsider_user)
    root = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    assert is_admin(root)


def test_navigation_shows_data_manager_to_admins_only(admin_client, client, analyst_user):
    assert b"Data Manager" in admin_client.get(reverse("home")).content
    client.force_login(analyst_user)
    assert b"Data Manager" not in client.get(reverse("home")).content


def test_every_user_gets_a_profile_in_the_site_zone(analyst_user, settings):
    assert analyst_user.profile.time_zone == settings.TIME_ZONE


def test_profile_time_zone_is_saved_and_used_for_rendering(analyst_client, analyst_user):
    response = analyst_client.post(reverse("profile"), {"time_zone": "Asia/Kolkata"})
    assert response.status_code == 302
    analyst_user.profile.refresh_from_db()
    assert analyst_user.profile.time_zone == "Asia/Kolkata"

    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone()

    analyst_user.refresh_from_db()
    UserTimezoneMiddleware(view)(SimpleNamespace(user=analyst_user))
    assert seen["zone"] == zoneinfo.ZoneInfo("Asia/Kolkata")


def test_unknown_time_zone_is_a_form_error(analyst_client, analyst_user):
    response = analyst_client.post(reverse("profile"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    analyst_user.profile.refresh_from_db()
    assert analyst_user.profile.time_zone == "UTC"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "is not a boolean"),
        ("EMAIL_PORT", "twenty", "is not a whole number"),
        ("TIME_ZONE", "Mars/Olympus", "is not an IANA time zone"),
        ("OUTBOUND_READ_TIMEOUT", "-1", "must be greater than"),
    ],
)
def test_malformed_settings_are_refused_with_a_clear_message(monkeypatch, name, value, message):
    from django.core.exceptions import ImproperlyConfigured

    from config import env

    monkeypatch.setenv(name, value)
    readers = {
        "DEBUG": lambda: env.env_bool("DEBUG", False),
        "EMAIL_PORT": lambda: env.env_int("EMAIL_PORT", 587),
        "TIME_ZONE": lambda: env.env_timezone("TIME_ZONE", "UTC"),
        "OUTBOUND_READ_TIMEOUT": lambda: env.env_float("OUTBOUND_READ_TIMEOUT", 30.0),
    }
    with pytest.raises(ImproperlyConfigured, match=message) as excinfo:
        readers[name]()
    assert name in str(excinfo.value)


def test_secret_can_come_from_a_file(monkeypatch, tmp_path):
    from config import env

    path = tmp_path / "key"
    path.write_text("from-file\n")
    monkeypatch.delenv("SOME_SECRET", raising=False)
    monkeypatch.setenv("SOME_SECRET_FILE", str(path))
    assert env.env_secret("SOME_SECRET") == "from-file"


def test_generated_keys_are_refused_when_debug_is_off(settings):
    from config.checks import generated_keys_in_production

    settings.DEBUG = False
    settings.GENERATED_KEYS = ["SECRET_KEY"]
    errors = generated_keys_in_production(None)
    assert [e.id for e in errors] == ["config.E001"]
    settings.DEBUG = True
    assert generated_keys_in_production(None) == []
