from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Dashboards"

    def ready(self):
        from dashboards import receivers  # noqa: F401 -- connects the in-use and alert receivers
