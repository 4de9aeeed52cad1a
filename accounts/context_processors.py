from accounts.roles import is_admin


def roles(request):
    return {"user_is_admin": is_admin(request.user)}
