from django.contrib import admin

from connections import services
from connections.models import Connection, ReferenceLabel


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Read-only: connections are created and edited in the Data Manager, where credentials are tested."""

    list_display = ["name", "integration", "status", "last_success_at", "last_error"]
    list_filter = ["integration", "status"]
    search_fields = ["name", "base_url"]
    # secrets_encrypted is never shown, not even as ciphertext.
    exclude = ["secrets_encrypted"]
    readonly_fields = [
        "uuid",
        "name",
        "integration",
        "base_url",
        "username",
        "auth_type",
        "options",
        "rate_limit_per_minute",
        "status",
        "last_error",
        "last_success_at",
        "last_tested_at",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        services.delete_connection(obj)

    def delete_queryset(self, request, queryset):
        for connection in queryset:
            services.delete_connection(connection)


@admin.register(ReferenceLabel)
class ReferenceLabelAdmin(admin.ModelAdmin):
    """The cached labels of reference values (connections.references); refreshed by syncs, read-only here."""

    list_display = ["key", "label", "connection", "fetched_at"]
    list_filter = ["connection"]
    search_fields = ["key", "label"]
    readonly_fields = ["connection", "key", "label", "fetched_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
