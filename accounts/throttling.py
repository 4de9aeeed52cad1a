"""Sign-in throttling with django-axes: whose address a request comes from, and the page a
refused sign-in gets. The settings (AXES_*) are in config/settings.py and the README."""

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render


def client_ip(request):
    """The client's address: the connection's, or behind TRUSTED_PROXY_COUNT proxies the one the
    outermost proxy saw (X-Forwarded-For, counted from the right so a client cannot forge it)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def _minutes(delta):
    minutes = max(1, round(delta.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def account_locked(username) -> bool:
    """Whether the per-account rule refuses this username now (rather than the per-address one)."""
    if not username or "username" not in settings.AXES_LOCKOUT_PARAMETERS:
        return False
    failures = AccessAttempt.objects.filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0
    return failures >= settings.AXES_FAILURE_LIMIT


def lockout_message(username) -> str:
    wait = _minutes(settings.AXES_COOLOFF_TIME)
    whose = "for this account" if account_locked(username) else "from your address"
    return f"Too many failed sign-ins {whose}; try again in {wait} or ask an admin to unlock it."


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page says why it refuses, with HTTP 429."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context = {"message": lockout_message(username), "username": username}
    return render(request, "accounts/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
