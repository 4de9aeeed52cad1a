"""System checks for configuration mistakes that settings alone cannot refuse."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from config.staticfiles import vendor_files_installed  # noqa: F401 -- registers its check (config.W002)


@register(Tags.security)
def generated_keys_in_production(app_configs, **kwargs):
    if settings.DEBUG or not settings.GENERATED_KEYS:
        return []
    names = " and ".join(settings.GENERATED_KEYS)
    return [
        Error(
            f"{names} not set: a development key was generated into {settings.LOCAL_DIR}.",
            hint="Set them in the environment (or as NAME_FILE) before running with DEBUG off.",
            id="config.E001",
        )
    ]


@register(Tags.security)
def private_hosts_in_production(app_configs, **kwargs):
    if settings.DEBUG or not settings.ALLOW_PRIVATE_HOSTS:
        return []
    return [
        Warning(
            "ALLOW_PRIVATE_HOSTS is on: connections may reach private, loopback and link-local addresses.",
            hint="Turn it off unless every connection's target is on a network you trust.",
            id="config.W001",
        )
    ]
