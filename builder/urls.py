from django.urls import path

from builder.views import calculated, metrics, wizard

app_name = "builder"

urlpatterns = [
    # The wizard, one URL per step on a persisted draft.
    path("", wizard.start, name="start"),
    path("drafts/<uuid:draft>/request/", wizard.request_step, name="request"),
    path("drafts/<uuid:draft>/send/", wizard.send, name="send"),
    path("drafts/<uuid:draft>/date/", wizard.date_step, name="date"),
    path("drafts/<uuid:draft>/expression/", wizard.expression_step, name="expression"),
    path("drafts/<uuid:draft>/evaluate/", wizard.evaluate, name="evaluate"),
    path("drafts/<uuid:draft>/name/", wizard.name_step, name="name"),
    path("drafts/<uuid:draft>/save/", wizard.save, name="save"),
    path("drafts/<uuid:draft>/discard/", wizard.discard, name="discard"),
    # Saved metrics.
    path("metrics/", metrics.metric_list, name="metric_list"),
    path("metrics/<uuid:uuid>/", metrics.metric_detail, name="metric"),
    path("metrics/<uuid:uuid>/edit/", metrics.metric_edit, name="metric_edit"),
    path("metrics/<uuid:uuid>/duplicate/", metrics.metric_duplicate, name="metric_duplicate"),
    path("metrics/<uuid:uuid>/delete/", metrics.metric_delete, name="metric_delete"),
    path("calculated/new/", calculated.calculated_new, name="calculated_new"),
    path("calculated/<uuid:uuid>/edit/", calculated.calculated_edit, name="calculated_edit"),
    path("gallery/", metrics.gallery, name="gallery"),
    path("gallery/<slug:slug>/", metrics.gallery_create, name="gallery_create"),
    path("export/", metrics.export, name="export"),
    path("import/", metrics.import_definitions, name="import"),
]
