from django.apps import AppConfig

from connections import integrations


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, not at the top: the integrations' forms and tests use the Connection
        # model, which can only be imported once the app registry has loaded the models.
        from connections.integrations import custom_rest, vtiger_cloud, vtiger_selfhosted

        integrations.register(vtiger_cloud.INTEGRATION, vtiger_selfhosted.INTEGRATION, custom_rest.INTEGRATION)
