"""Scorecards: a daily, weekly or monthly email digest of up to 15 metrics.

When a scorecard is due
-----------------------
Everything about a scorecard is read in its **owner's** time zone (the site's when the owner is
gone): one digest, the same for every recipient, so the numbers in everybody's inbox agree.

* daily: every day at ``hour`` local time, about yesterday;
* weekly: Mondays at ``hour``, about last week (Monday to Sunday);
* monthly: the 1st at ``hour``, about last month.

The send time of the current period is the local ``hour`` on its first day (an hour skipped by
a DST change moves forward to the first real instant after it). A scorecard is due once that
time has passed and nothing was sent since it (``last_sent_at``), so a beat that was down
catches up later in the period, but never twice in one period. A scorecard created after this
period's send time waits for the next period. "Send now" also sets ``last_sent_at``: sent by
hand after the send time, the period's digest is done; sent before it, the scheduled one still
goes.

What a digest holds
-------------------
For each metric: its value over the previous full period (yesterday, last week, last month)
and the change against the period before that, coloured by the metric's favourable trend, all
through :func:`dashboards.queries.totals` (the whole card at once) and
:func:`dashboards.comparison.compare`. A metric with dimensions lists its top
``TOP_DIMENSIONS`` dimensions under its line, each labelled, with its value and change
(:func:`dashboards.breakdowns.breakdown`, one query per metric).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from builder import timeframes
from builder.validators import single_line
from dashboards import breakdowns, comparison, queries
from dashboards.models import Scorecard
from dashboards.templatetags.metric_format import metric_value, signed
from syncs import history

logger = logging.getLogger(__name__)

# The full period a digest reports on, per frequency.
PERIOD_PRESET = {
    Scorecard.Frequency.DAILY: "yesterday",
    Scorecard.Frequency.WEEKLY: "last_week",
    Scorecard.Frequency.MONTHLY: "last_month",
}

# Dimensions listed under a metric that has them.
TOP_DIMENSIONS = 5

# Email clients ignore stylesheets: the HTML body carries these colours inline.
COLOURS = {"green": "#1d7a46", "red": "#b42318", "grey": "#5b6475"}


def zone_of(card: Scorecard) -> str:
    """The card's owner's zone (``timeframes.user_zone``: UTC without an owner or a profile)."""
    return timeframes.user_zone(card.owner if card.owner_id else None)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def period_start(card: Scorecard, local_day: date) -> date:
    """The first local day of the period holding ``local_day``."""
    if card.frequency == Scorecard.Frequency.WEEKLY:
        return timeframes.week_start_of(local_day)
    if card.frequency == Scorecard.Frequency.MONTHLY:
        return local_day.replace(day=1)
    return local_day


def send_time(card: Scorecard, now: datetime | None = None) -> datetime:
    """This period's send time (UTC): ``hour`` local time on the period's first day."""
    zone = timeframes.get_zone(zone_of(card))
    first = period_start(card, _now(now).astimezone(zone).date())
    return timeframes.localize(datetime.combine(first, time(card.hour)), zone)


def next_send_time(card: Scorecard, now: datetime | None = None) -> datetime:
    """When the next digest goes (for the list page): this period's send time, or the next period's."""
    now = _now(now)
    at = send_time(card, now)
    if at > now or is_due(card, now):
        return at
    zone = timeframes.get_zone(zone_of(card))
    first = period_start(card, now.astimezone(zone).date())
    if card.frequency == Scorecard.Frequency.WEEKLY:
        following = first + timedelta(days=7)
    elif card.frequency == Scorecard.Frequency.MONTHLY:
        following = timeframes.add_months(first, 1)
    else:
        following = first + timedelta(days=1)
    return timeframes.localize(datetime.combine(following, time(card.hour)), zone)


def is_due(card: Scorecard, now: datetime | None = None) -> bool:
    now = _now(now)
    at = send_time(card, now)
    if now < at:
        return False
    since = card.last_sent_at or card.created_at
    return since is None or since < at


def report_range(card: Scorecard, now: datetime | None = None) -> timeframes.Range:
    """The full period the digest reports on, in the owner's zone."""
    return timeframes.resolve(PERIOD_PRESET[card.frequency], zone_of(card), _now(now))


@dataclass(frozen=True)
class Row:
    metric: object
    value: float | int | None
    comparison: comparison.Comparison
    dimensions: tuple = ()  # Rows of the top dimensions, each named by its label
    label: str = ""  # a dimension's row: its label

    @property
    def name(self) -> str:
        return self.label or self.metric.name

    @property
    def colour(self) -> str:
        return self.comparison.colour

    @property
    def hex_colour(self) -> str:
        return COLOURS[self.comparison.colour]

    @property
    def value_text(self) -> str:
        return metric_value(self.value, self.metric.number_format, self.metric.currency)

    @property
    def previous_text(self) -> str:
        return metric_value(self.comparison.previous, self.metric.number_format, self.metric.currency)

    @property
    def percent_text(self) -> str:
        return self.comparison.percent_text()

    @property
    def change_text(self) -> str:
        return signed(self.comparison.change, self.metric.number_format, self.metric.currency)

    @property
    def comparable(self) -> bool:
        """False when the period before reaches before the metric's synced history."""
        return self.comparison.comparable


@dataclass(frozen=True)
class Digest:
    card: Scorecard
    range: timeframes.Range
    previous: timeframes.Range
    rows: list[Row]

    @property
    def period_text(self) -> str:
        first, last = self.range.first_day, self.range.last_day
        if first == last:
            return f"{self.range.label} ({first:%a} {first.day} {first:%b %Y})"
        return f"{self.range.label} ({first.day} {first:%b} – {last.day} {last:%b %Y})"


def build(card: Scorecard, now: datetime | None = None) -> Digest:
    """Each metric's value over the last full period and its change against the one before."""
    current = report_range(card, now)
    metrics = list(card.metrics.select_related("connection").order_by("name"))
    synced, since = history.of(metrics), timeframes.previous(current).start
    values = queries.totals(metrics, current)  # every metric's pair at once, calculated ones included
    rows = []
    for metric in metrics:
        value, previous = values[metric.pk]
        comparable = comparison.comparable(synced[metric.pk], since)
        compared = comparison.compare(value, previous, metric.favourable_trend, comparable)
        rows.append(Row(metric, value, compared, top_dimensions(metric, current, comparable)))
    return Digest(card=card, range=current, previous=timeframes.previous(current), rows=rows)


def top_dimensions(metric, current: timeframes.Range, comparable: bool) -> tuple[Row, ...]:
    """The metric's top dimensions over ``current`` with their change, as Rows (one query); none
    for a metric without dimensions or a calculated one. "Other" is left out: the metric's own
    line holds the total."""
    if queries.is_calculated(metric):
        return ()
    found = breakdowns.breakdown(metric, current, top=TOP_DIMENSIONS, comparable=comparable)
    if not any(line.key for line in found.lines):
        return ()
    return tuple(
        Row(metric, line.value, line.comparison, label=line.label) for line in found.lines if not line.is_other
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(card: Scorecard, now: datetime | None = None) -> Rendered:
    digest = build(card, now)
    site = getattr(settings, "SITE_URL", "").rstrip("/")
    context = {
        "card": card,
        "digest": digest,
        "rows": digest.rows,
        "zone": zone_of(card),
        "colours": COLOURS,
        "preview_url": site + reverse("dashboards:scorecard_preview", args=[card.uuid]),
        "site_url": site,
    }
    # One line whatever the name holds (saved before names were checked): a line break in a
    # subject is refused by Django's mail, which looked like the mail server failing.
    subject = single_line(f"{card.name}: {digest.period_text}")
    return Rendered(
        subject=subject,
        text=render_to_string("email/scorecard.txt", context),
        html=render_to_string("email/scorecard.html", context),
    )


@dataclass(frozen=True)
class Delivery:
    sent: int  # messages the mail server took
    failed: int  # messages it refused (or could not be reached for)


def send(card: Scorecard, now: datetime | None = None) -> Delivery:
    """Email the digest to each recipient with an address (one message each).

    A recipient's broken address does not stop the others. Records ``last_sent_at`` when at
    least one message went out, or when there was nobody to send to; when every message failed
    (the mail server is down), nothing is recorded, so the digest can go later.
    """
    now = _now(now)
    rendered = render(card, now)
    sent = failed = 0
    for user in card.recipients.exclude(email="").order_by("pk"):
        mail = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text, to=[user.email])
        mail.attach_alternative(rendered.html, "text/html")
        try:
            mail.send()
        except Exception:
            logger.exception("Could not email scorecard %s to %s", card.pk, user.email)
            failed += 1
            continue
        sent += 1
    if sent or not failed:
        Scorecard.objects.filter(pk=card.pk).update(last_sent_at=now)
        card.last_sent_at = now
    return Delivery(sent, failed)


def _claim(card: Scorecard, now: datetime) -> bool:
    """Mark the period's digest as ours before sending: two beats never send it twice."""
    queryset = Scorecard.objects.filter(pk=card.pk)
    if card.last_sent_at is None:
        queryset = queryset.filter(last_sent_at__isnull=True)
    else:
        queryset = queryset.filter(last_sent_at=card.last_sent_at)
    return bool(queryset.update(last_sent_at=now))


def send_due(now: datetime | None = None) -> list[Scorecard]:
    """Send every scorecard that is due; the scorecards sent.

    A digest that reached nobody because every message failed (the mail server is down) gives
    its claim back: the next beat, 15 minutes later, tries again while the period lasts.
    """
    now = _now(now).astimezone(UTC)
    sent = []
    for card in Scorecard.objects.select_related("owner__profile"):
        previous = card.last_sent_at
        if not is_due(card, now) or not _claim(card, now):
            continue
        try:
            delivery = send(card, now)
        except Exception:
            # Claimed: a digest that cannot even be rendered is given up, not retried in a loop.
            logger.exception("Could not send scorecard %s", card.pk)
            continue
        if delivery.failed and not delivery.sent:
            Scorecard.objects.filter(pk=card.pk, last_sent_at=now).update(last_sent_at=previous)
            logger.warning("Scorecard %s reached nobody; the next beat tries again", card.pk)
            continue
        sent.append(card)
    return sent
