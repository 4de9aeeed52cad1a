from django.urls import path

from dashboards.views import alerts, databoards, goals, scorecards, screen

app_name = "dashboards"

urlpatterns = [
    path("metrics/<uuid:uuid>/reading/", screen.metric_reading, name="reading"),
    path("metrics/<uuid:uuid>/datapoints.csv", screen.metric_csv, name="csv"),
    path("metrics/<uuid:uuid>/datapoints.json", screen.metric_json, name="json"),
    # Databoards.
    path("boards/", databoards.databoard_list, name="databoards"),
    path("boards/new/", databoards.databoard_create, name="databoard_create"),
    path("boards/<uuid:uuid>/", databoards.databoard_detail, name="databoard"),
    path("boards/<uuid:uuid>/rename/", databoards.databoard_rename, name="databoard_rename"),
    path("boards/<uuid:uuid>/delete/", databoards.databoard_delete, name="databoard_delete"),
    path("boards/<uuid:uuid>/tiles/", databoards.tile_add, name="tile_add"),
    path("boards/<uuid:uuid>/tiles/<int:tile>/remove/", databoards.tile_remove, name="tile_remove"),
    path("boards/<uuid:uuid>/tiles/<int:tile>/move/", databoards.tile_move, name="tile_move"),
    # Goals.
    path("metrics/<uuid:uuid>/goals/", goals.goal_list, name="goals"),
    path("metrics/<uuid:uuid>/goals/<int:goal>/delete/", goals.goal_delete, name="goal_delete"),
    # Alerts and scorecards: see dashboards.views.alerts and dashboards.views.scorecards.
    path("metrics/<uuid:uuid>/alerts/", alerts.alert_list, name="alerts"),
    path("metrics/<uuid:uuid>/alerts/<int:alert>/edit/", alerts.alert_edit, name="alert_edit"),
    path("metrics/<uuid:uuid>/alerts/<int:alert>/delete/", alerts.alert_delete, name="alert_delete"),
    path("scorecards/", scorecards.scorecard_list, name="scorecards"),
    path("scorecards/new/", scorecards.scorecard_create, name="scorecard_create"),
    path("scorecards/<uuid:uuid>/", scorecards.scorecard_preview, name="scorecard_preview"),
    path("scorecards/<uuid:uuid>/email/", scorecards.scorecard_email, name="scorecard_email"),
    path("scorecards/<uuid:uuid>/edit/", scorecards.scorecard_edit, name="scorecard_edit"),
    path("scorecards/<uuid:uuid>/delete/", scorecards.scorecard_delete, name="scorecard_delete"),
    path("scorecards/<uuid:uuid>/send/", scorecards.scorecard_send, name="scorecard_send"),
]
