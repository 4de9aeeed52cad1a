from django.conf import settings
from django.db import models


def _default_time_zone():
    return settings.TIME_ZONE


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # IANA name; ranges on the metrics screen start at midnight in this zone.
    time_zone = models.CharField(max_length=64, default=_default_time_zone)

    def __str__(self):
        return f"Profile of {self.user}"
