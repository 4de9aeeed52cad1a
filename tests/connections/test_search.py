"""The catalogue search forgives case, partial words and small typos."""

import dataclasses

import pytest

from connections import integrations
from connections.models import Connection


def slugs(text):
    return [integration.slug for integration in integrations.search(text)]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("vtiger", "vtiger"),
        ("Vtiger", "vtiger"),
        ("tvitger", "vtiger"),
        ("vtigr", "vtiger"),
        ("vtig", "vtiger"),
        ("VTIGER self", "vtiger-selfhosted"),
        ("self-hosted", "vtiger-selfhosted"),
        ("selfhosted", "vtiger-selfhosted"),
        ("rest", "custom"),
        ("Custom", "custom"),
        ("custm", "custom"),
        ("json api", "custom"),
    ],
)
def test_forgiving_search_finds_the_right_integration(text, first):
    assert slugs(text)[0] == first


def test_typo_finds_both_vtiger_integrations():
    assert set(slugs("tvitger")) == {"vtiger", "vtiger-selfhosted"}


def test_more_words_narrow_the_results():
    assert slugs("VTIGER self") == ["vtiger-selfhosted"]
    assert slugs("vtiger cloud") == ["vtiger"]


@pytest.mark.parametrize("text", ["xyzzy", "qwertyuiop", "salesforce", "zz top"])
def test_nonsense_finds_nothing(text):
    assert slugs(text) == []


def test_empty_search_lists_everything():
    assert slugs("  ") == ["vtiger", "vtiger-selfhosted", "custom"]


def test_registry_and_get():
    assert integrations.get("vtiger").status_label == "Beta"
    assert integrations.get("nope") is None
    with pytest.raises(LookupError, match="choose one of: vtiger, vtiger-selfhosted, custom"):
        integrations.get_or_raise("nope")


def test_every_integration_describes_itself():
    for integration in integrations.all_integrations():
        labels = dict(integration.details())
        assert set(labels) >= {"Status", "Authorization type", "Available requests", "Rate limits", "Pagination"}
        assert integration.credentials_help and integration.description and integration.form_class
    vtiger = integrations.get("vtiger")
    assert [e for e, _ in vtiger.endpoint_suggestions] == ["me", "listtypes", "describe", "query", "retrieve", "sync"]
    assert (
        vtiger.default_pagination == "vtiger" and integrations.get("vtiger-selfhosted").default_pagination == "vtiger"
    )
    assert integrations.get("custom").default_pagination == "none"
    assert dict(vtiger.details())["Available requests"] == "GET"


def test_every_kind_of_connection_is_registered_in_catalogue_order():
    assert list(integrations.REGISTRY) == [choice.value for choice in Connection.Integration]
    assert [Connection(integration=slug).integration_module.slug for slug in integrations.REGISTRY] == list(
        integrations.REGISTRY
    )


def test_registering_again_changes_nothing_and_a_taken_slug_is_refused():
    vtiger = integrations.get("vtiger")
    integrations.register(vtiger)  # ConnectionsConfig.ready() run a second time
    assert list(integrations.REGISTRY) == ["vtiger", "vtiger-selfhosted", "custom"]
    impostor = dataclasses.replace(integrations.get("custom"), slug="vtiger")
    with pytest.raises(ValueError, match="Another integration is already registered as 'vtiger'"):
        integrations.register(impostor)
    assert integrations.get("vtiger") is vtiger
