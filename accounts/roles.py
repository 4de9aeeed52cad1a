"""The two roles, kept as Django groups so admins assign them in Django admin."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

ADMIN = "admin"
ANALYST = "analyst"


def is_admin(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Cached per request object: the navigation asks on every page.
    if not hasattr(user, "_is_admin"):
        user._is_admin = user.groups.filter(name=ADMIN).exists()
    return user._is_admin


def admin_required(view):
    """Anonymous users go to the login page; signed-in non-admins get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied("Only admins can manage connections.")
        return view(request, *args, **kwargs)

    return wrapper


def is_member(user) -> bool:
    """Admins and analysts: the people who build and read metrics."""
    if is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    if not hasattr(user, "_is_analyst"):
        user._is_analyst = user.groups.filter(name=ANALYST).exists()
    return user._is_analyst


def member_required(view):
    """Anonymous users go to the login page; signed-in users in neither role get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_member(request.user):
            raise PermissionDenied("Ask an admin to give you the analyst role.")
        return view(request, *args, **kwargs)

    return wrapper


def may_change(user, owner_id) -> bool:
    """Who may change or delete a thing a member made (a board, a goal, an alert, a scorecard):
    the member who made it, or an admin; every other member only reads it."""
    return (owner_id is not None and owner_id == user.pk) or is_admin(user)


def require_owner(user, owner_id, what):
    """403 unless ``user`` may change the thing (see may_change); ``what`` names it in the message."""
    if not may_change(user, owner_id):
        raise PermissionDenied(f"Only the {what}'s owner, or an admin, can change or delete it.")
