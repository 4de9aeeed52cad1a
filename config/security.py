"""The Content-Security-Policy every response carries.

The pages load scripts and styles from this site only: no inline script, no event-handler
attribute, no inline style, no third-party origin. Text a user typed can then at worst show
up as text, even if a template ever forgot to escape it (the second wall behind autoescaping).
Set CONTENT_SECURITY_POLICY to replace the policy (for example to add `report-uri`).
"""

from django.conf import settings

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

# A rendered email shown inside the scorecard preview's sandboxed frame: emails need inline
# styles (mail clients ignore stylesheets), and nothing else may load or run in there.
EMAIL_FRAME_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    )
)

HEADER = "Content-Security-Policy"


def policy():
    return getattr(settings, "CONTENT_SECURITY_POLICY", "") or POLICY


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that does not set its own (see EMAIL_FRAME_POLICY)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if HEADER not in response.headers:
            response.headers[HEADER] = policy()
        return response
