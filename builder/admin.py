from django.contrib import admin

from builder.models import Draft, Metric


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    """For looking things up; metrics are built and changed in the wizard, where definitions are checked."""

    list_display = ["name", "connection", "date_mode", "aggregation", "owner", "updated_at"]
    list_filter = ["date_mode", "aggregation", "connection"]
    search_fields = ["name", "description", "endpoint"]
    readonly_fields = [field.name for field in Metric._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["uuid", "owner", "metric", "updated_at"]
    readonly_fields = ["uuid", "owner", "metric", "definition", "preview_range", "created_at", "updated_at"]
    exclude = ["response", "response_meta"]

    def has_add_permission(self, request):
        return False
