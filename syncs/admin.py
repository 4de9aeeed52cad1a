from django.contrib import admin

from syncs.models import SyncRun, SyncState, Use


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = ("metric", "in_use", "status", "next_sync_at", "last_synced_at", "consecutive_failures")
    list_filter = ("in_use", "status")
    search_fields = ("metric__name",)
    readonly_fields = ("claimed_by", "claimed_at", "heartbeat_at", "definition_hash")


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("metric", "kind", "status", "started_at", "requests", "pages", "datapoints_written")
    list_filter = ("status", "kind")
    search_fields = ("metric__name",)


@admin.register(Use)
class UseAdmin(admin.ModelAdmin):
    list_display = ("metric", "kind", "ref", "created_at")
    list_filter = ("kind",)
