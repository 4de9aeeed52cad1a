"""The notifications page and "Mark all read": each person sees and clears only their own."""

from django.urls import reverse

from notifications.models import Notification

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_list_shows_ones_own_notifications_newest_first(analyst_client, analyst_user, admin_user):
    Notification.objects.create(user=analyst_user, text="Older news", url="/builder/")
    Notification.objects.create(user=analyst_user, text="Newer news")
    Notification.objects.create(user=admin_user, text="Not for Alan")

    page = analyst_client.get("/notifications/").content.decode()

    assert '<a href="/builder/">Older news</a>' in page
    assert page.index("Newer news") < page.index("Older news")
    assert "Not for Alan" not in page


def test_an_empty_list_says_so(analyst_client):
    assert "Nothing to tell you." in analyst_client.get(reverse("notifications:list")).content.decode()


def test_mark_all_read_marks_only_ones_own_and_goes_back_to_the_list(analyst_client, analyst_user, admin_user):
    Notification.objects.create(user=analyst_user, text="Alan's")
    Notification.objects.create(user=admin_user, text="Ada's")

    response = analyst_client.post("/notifications/read/")

    assert response.status_code == 302 and response["Location"] == reverse("notifications:list")
    assert list(Notification.objects.filter(read=False).values_list("text", flat=True)) == ["Ada's"]


def test_mark_all_read_from_htmx_answers_no_content(analyst_client, analyst_user):
    Notification.objects.create(user=analyst_user, text="Alan's")
    response = analyst_client.post(reverse("notifications:read"), **HTMX)
    assert response.status_code == 204
    assert not Notification.objects.filter(read=False).exists()


def test_the_navigation_links_the_list(analyst_client):
    page = analyst_client.get(reverse("home")).content.decode()
    assert '<a href="/notifications/" title="Notifications">Notifications</a>' in page
