from notifications.models import unread_count


def unread_notifications(request):
    """How many unread notifications (alerts gone off, paused syncs) the navigation shows."""
    if not request.user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(request.user)}
