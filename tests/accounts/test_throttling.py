"""Sign-in throttling (django-axes): per account and per address, a clear message, an admin unlock."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from tests.factories import UserFactory

LIMIT = 10  # AXES_FAILURE_LIMIT's default
ACCOUNT_LOCKED = "Too many failed sign-ins for this account; try again in 15 minutes or ask an admin to unlock it."
ADDRESS_LOCKED = "Too many failed sign-ins from your address; try again in 15 minutes or ask an admin to unlock it."


def _sign_in(username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(reverse("login"), {"username": username, "password": password})


def _fail(username, times, address="10.0.0.1"):
    for _ in range(times):
        response = _sign_in(username, "wrong password", address)
    return response


def _signed_in(response):
    return response.status_code == 302 and response["Location"] == reverse("home")


def test_the_right_password_after_ten_wrong_ones_is_refused_with_the_reason(analyst_user):
    assert b"Please enter a correct username" in _fail("alan", LIMIT - 1).content
    assert _signed_in(_sign_in("alan", PASSWORD)), "nine failures: not locked, and the success resets them"
    _fail("alan", LIMIT)
    response = _sign_in("alan", PASSWORD)
    assert response.status_code == 429
    assert ACCOUNT_LOCKED in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_a_locked_account_is_locked_from_every_address(analyst_user):
    _fail("alan", LIMIT, address="10.0.0.1")
    response = _sign_in("alan", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429 and ACCOUNT_LOCKED in response.content.decode()


def test_an_address_trying_many_accounts_is_locked_and_others_are_not(analyst_user, admin_user):
    for n in range(LIMIT):
        _sign_in(f"guess{n}", "wrong password", address="10.6.6.6")
    response = _sign_in("alan", PASSWORD, address="10.6.6.6")
    assert response.status_code == 429 and ADDRESS_LOCKED in response.content.decode()
    assert _signed_in(_sign_in("alan", PASSWORD, address="10.0.0.1")), "the account itself is not locked"


def test_per_account_only_another_account_from_the_same_address_still_signs_in(settings, analyst_user, admin_user):
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    _fail("alan", LIMIT)
    assert _sign_in("alan", PASSWORD).status_code == 429
    assert _signed_in(_sign_in("ada", PASSWORD))


def test_axes_reset_unlocks(analyst_user):
    _fail("alan", LIMIT)
    assert _sign_in("alan", PASSWORD).status_code == 429
    call_command("axes_reset_username", "alan")
    assert _signed_in(_sign_in("alan", PASSWORD))


def test_an_admin_unlocks_in_django_admin(analyst_user):
    admin_client = Client()
    admin_client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    _fail("alan", LIMIT)
    assert _sign_in("alan", PASSWORD).status_code == 429
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200 and "alan" in page.content.decode()
    attempts = list(AccessAttempt.objects.filter(username="alan").values_list("pk", flat=True))
    response = admin_client.post(changelist, {"action": "delete_selected", "_selected_action": attempts, "post": "yes"})
    assert response.status_code == 302
    assert _signed_in(_sign_in("alan", PASSWORD))


def test_behind_a_trusted_proxy_the_forwarded_address_counts(settings, analyst_user):
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(REMOTE_ADDR="10.0.0.254")  # the proxy
    for n in range(LIMIT):
        forged_then_real = f"1.2.3.{n}, 10.7.7.7"  # whatever the client sends first, the proxy appends the truth
        client.post(reverse("login"), {"username": f"guess{n}", "password": "x"}, HTTP_X_FORWARDED_FOR=forged_then_real)
    assert AccessAttempt.objects.filter(ip_address="10.7.7.7").count() == LIMIT
    other_client = Client(REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="10.8.8.8")
    assert _signed_in(other_client.post(reverse("login"), {"username": "alan", "password": PASSWORD}))


@pytest.mark.parametrize("enabled", [True, False])
def test_axes_enabled_follows_the_setting(settings, analyst_user, enabled):
    settings.AXES_ENABLED = enabled
    _fail("alan", LIMIT)
    assert (_sign_in("alan", PASSWORD).status_code == 429) is enabled
