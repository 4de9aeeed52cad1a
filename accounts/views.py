from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts.forms import ProfileForm


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user.profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Time zone set to {form.cleaned_data['time_zone']}.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})
