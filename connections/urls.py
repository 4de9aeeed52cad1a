from django.urls import path

from connections import views

app_name = "connections"

urlpatterns = [
    path("", views.connection_list, name="list"),
    path("new/", views.catalogue, name="catalogue"),
    path("new/<slug:slug>/", views.integration_detail, name="integration"),
    path("new/<slug:slug>/connect/", views.connect, name="connect"),
    path("<uuid:uuid>/", views.connection_detail, name="detail"),
    path("<uuid:uuid>/edit/", views.connection_edit, name="edit"),
    path("<uuid:uuid>/test/", views.connection_test, name="test"),
    path("<uuid:uuid>/delete/", views.connection_delete, name="delete"),
]
