"""Goals on a metric: a target for a month, quarter, year or custom dates, with progress.

Every member sees a metric's goals and may set one; the goal's creator (or an admin) removes it.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import may_change, member_required, require_owner
from builder import timeframes
from builder.models import Metric
from dashboards import breakdowns, comparison, goals, queries
from dashboards.forms import GoalForm
from dashboards.models import Goal
from syncs import history

STATUS_LABELS = {
    "upcoming": "Not started",
    "no_data": "No data yet",
    "achieved": "Achieved",
    "on_track": "On track",
    "off_track": "Off track",
    "missed": "Missed",
    "no_comparable_data": "No comparable data: the period starts before the synced history",
}


def progress_of(goal, tz, now=None):
    """The goal's period in `tz` and its progress now, through the same queries as the screens."""
    period = goals.goal_period(goal.period, tz, start_date=goal.start_date, end_date=goal.end_date)
    if goal.dimension:
        value, _ = breakdowns.dimension_value(goal.metric, goals.so_far(period, now), goal.dimension, previous=False)
    else:
        value = queries.aggregate(goal.metric, goals.so_far(period, now))
    comparable = comparison.comparable(history.of([goal.metric])[goal.metric.pk], period.start)
    result = goals.evaluate(
        goal.target,
        value,
        period,
        goal.metric.favourable_trend,
        now,
        cumulative=goals.is_cumulative(goal.metric.aggregation),
        comparable=comparable,
    )
    return period, result


@member_required
def goal_list(request, uuid):
    metric = get_object_or_404(Metric, uuid=uuid)
    form = GoalForm(request.POST or None, metric=metric)
    if request.method == "POST" and form.is_valid():
        goal = form.save(commit=False)
        goal.metric = metric
        goal.created_by = request.user
        goal.save()
        messages.success(request, "Goal set. The metric keeps syncing while the goal exists.")
        return redirect("dashboards:goals", uuid=metric.uuid)
    tz = timeframes.user_zone(request.user)
    rows = []
    labels = form.known_dimensions  # the metric's dimensions and their labels, read once for the form
    for goal in metric.goals.all():
        period, result = progress_of(goal, tz)
        rows.append(
            {
                "goal": goal,
                "dimension": labels.get(goal.dimension, goal.dimension),
                "period": period,
                "result": result,
                "status": STATUS_LABELS[result.status],
                "can_change": may_change(request.user, goal.created_by_id),
            }
        )
    return render(request, "dashboards/goals.html", {"metric": metric, "form": form, "rows": rows})


@member_required
def goal_delete(request, uuid, goal):
    metric = get_object_or_404(Metric, uuid=uuid)
    goal = get_object_or_404(Goal, pk=goal, metric=metric)
    require_owner(request.user, goal.created_by_id, "goal")
    if request.method == "POST":
        goal.delete()
        messages.success(request, "Goal removed.")
        return redirect("dashboards:goals", uuid=metric.uuid)
    return render(request, "dashboards/goal_delete.html", {"metric": metric, "goal": goal})
