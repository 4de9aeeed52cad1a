from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("data-manager/", include("connections.urls")),
    path("admin/", admin.site.urls),
]
