"""Every page of the project asks who is there before anything else: walked from the URLconf,
so a view added tomorrow without a role check fails here."""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"accounts/login/", "accounts/logout/"}
SIGNED_IN = {"accounts/profile/"}  # anyone signed in sets their own time zone, role or not
ADMINS_ONLY = "data-manager/"
PARAMETER = re.compile(r"<(\w+):\w+>")
SAMPLE = {"uuid": str(uuid.uuid4()), "int": "1", "slug": "vtiger", "str": "x", "path": "x"}


def _routes(patterns=None, prefix=""):
    """Every project URL as (pattern text, an example path), leaving out Django's admin site."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if not text.startswith("admin/"):
                yield from _routes(entry.url_patterns, text)
        elif isinstance(entry, URLPattern) and text not in PUBLIC:
            yield text, "/" + PARAMETER.sub(lambda match: SAMPLE[match[1]], text)


ROUTES = sorted(_routes())


def test_the_walk_finds_the_pages():
    texts = [text for text, _ in ROUTES]
    assert len(texts) > 50 and "" in texts and "data-manager/<uuid:uuid>/edit/" in texts


@pytest.mark.parametrize(("text", "path"), ROUTES, ids=[text or "/" for text, _ in ROUTES])
def test_anonymous_visitors_go_to_sign_in_and_outsiders_are_refused(client, outsider_user, analyst_user, text, path):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code in (302, 405), f"{method.__name__.upper()} {path}"
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/")

    client.force_login(outsider_user)
    for method in (client.get, client.post):
        allowed = (200, 302, 400) if text in SIGNED_IN else (403, 405)
        assert method(path).status_code in allowed, f"a user in no role: {method.__name__.upper()} {path}"

    if text.startswith(ADMINS_ONLY):
        client.force_login(analyst_user)
        for method in (client.get, client.post):
            assert method(path).status_code in (403, 405), f"an analyst: {method.__name__.upper()} {path}"
