import zoneinfo

from django.utils import timezone


class UserTimezoneMiddleware:
    """Render times in the signed-in user's zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = None
        if request.user.is_authenticated:
            profile = getattr(request.user, "profile", None)
            if profile is not None:
                try:
                    zone = zoneinfo.ZoneInfo(profile.time_zone)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    zone = None
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
