"""Thin Celery tasks of the dashboards: they call a service function and return quietly."""

from celery import shared_task

from dashboards import scorecards


@shared_task(name="dashboards.send_scorecards", ignore_result=True)
def send_scorecards():
    """Beat, every 15 minutes: email the scorecards that are due (see dashboards.scorecards)."""
    return len(scorecards.send_due())
