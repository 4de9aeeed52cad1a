from django.contrib import admin, messages
from django.db.models import ProtectedError
from django.shortcuts import redirect

from builder.models import Draft, Metric, MetricInput


class MetricInputInline(admin.TabularInline):
    model = MetricInput
    fk_name = "metric"
    fields = ["name", "source"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    """For looking things up; metrics are built and changed in the wizard, where definitions are checked."""

    list_display = ["name", "kind", "connection", "date_mode", "aggregation", "owner", "updated_at"]
    list_filter = ["kind", "date_mode", "aggregation", "connection"]
    search_fields = ["name", "description", "endpoint", "formula"]
    readonly_fields = [field.name for field in Metric._meta.fields]
    inlines = [MetricInputInline]

    def has_add_permission(self, request):
        return False

    def _refused(self, request, metrics) -> bool:
        """True (with a message naming them) when a calculated metric needs one of ``metrics``."""
        refused = False
        for metric in metrics:
            needed_by = metric.needed_by()
            if needed_by:
                names = ", ".join(f"“{other.name}”" for other in needed_by)
                self.message_user(
                    request,
                    f"“{metric.name}” cannot be deleted while calculated metrics are made from it: {names}.",
                    messages.ERROR,
                )
                refused = True
        return refused

    def delete_view(self, request, object_id, extra_context=None):
        metric = self.get_object(request, object_id)
        if metric is not None and request.method == "POST" and self._refused(request, [metric]):
            return redirect("admin:builder_metric_change", metric.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request, queryset):
        if self._refused(request, queryset):
            return
        try:
            super().delete_queryset(request, queryset)
        except ProtectedError:
            self.message_user(
                request, "A calculated metric needs one of these metrics: nothing was deleted.", messages.ERROR
            )


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["uuid", "owner", "metric", "updated_at"]
    readonly_fields = ["uuid", "owner", "metric", "definition", "preview_range", "created_at", "updated_at"]
    exclude = ["response", "response_meta"]

    def has_add_permission(self, request):
        return False
