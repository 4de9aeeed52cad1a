def notifications(request):
    """How many unread notifications (alerts gone off, paused syncs) the navigation shows."""
    if not request.user.is_authenticated:
        return {}
    from syncs.models import Notification

    return {"unread_notifications": Notification.objects.filter(user=request.user, read=False).count()}
