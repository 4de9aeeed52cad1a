import zoneinfo

from django import forms

from accounts.models import Profile


def _zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=_zone_choices,
        help_text="Date ranges such as Today and Last month start at midnight in this zone.",
    )

    class Meta:
        model = Profile
        fields = ["time_zone"]
