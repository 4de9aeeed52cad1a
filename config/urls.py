from django.contrib import admin
from django.urls import include, path

from dashboards.views import screen as dashboard_views

urlpatterns = [
    path("", dashboard_views.metrics_screen, name="home"),
    path("accounts/", include("accounts.urls")),
    path("builder/", include("builder.urls")),
    path("data-manager/", include("connections.urls")),
    path("syncs/", include("syncs.urls")),
    path("notifications/", include("notifications.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("admin/", admin.site.urls),
]
