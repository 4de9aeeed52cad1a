from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from syncs import (
            receivers,  # noqa: F401 - connects the signal receivers
            references,  # noqa: F401 - reference labels refreshed after syncs
        )
