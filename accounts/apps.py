from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users and roles"

    def ready(self):
        from accounts import signals  # noqa: F401 -- connects the profile-creation receiver
        from config import checks  # noqa: F401 -- registers the configuration checks
