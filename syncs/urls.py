from django.urls import path

from syncs import views

app_name = "syncs"

urlpatterns = [
    path("metrics/<uuid:uuid>/", views.panel, name="panel"),
    path("metrics/<uuid:uuid>/screen/", views.screen_use, name="screen_use"),
    path("metrics/<uuid:uuid>/sync-now/", views.sync_now, name="sync_now"),
    path("metrics/<uuid:uuid>/progress/<str:token>/", views.progress, name="progress"),
    path("metrics/<uuid:uuid>/backfill/", views.backfill, name="backfill"),
    path("metrics/<uuid:uuid>/resume/", views.resume, name="resume"),
    path("metrics/<uuid:uuid>/pause/", views.pause, name="pause"),
]
