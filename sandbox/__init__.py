"""A Vtiger CRM simulator: the Cloud REST API, the self-hosted webservice.php and seeded data.

Standalone on purpose: it imports nothing from the product, so the product's tests exercise
their HTTP client against something that behaves like a real server, not against mocks.
"""

# The demo user's credentials, the same for the Cloud REST API (HTTP Basic) and for
# webservice.php (challenge + md5 login). The user is 19x1, "Dana Demo".
DEMO_USERNAME = "demo"
DEMO_ACCESS_KEY = "s4ndb0xDem0Key16"
DEMO_USER_ID = "19x1"
DEMO_FIRST_NAME = "Dana"
DEMO_LAST_NAME = "Demo"
DEMO_EMAIL = "demo@sandbox.example"

DEFAULT_SEED = 20240611

__all__ = [
    "DEFAULT_SEED",
    "DEMO_ACCESS_KEY",
    "DEMO_EMAIL",
    "DEMO_FIRST_NAME",
    "DEMO_LAST_NAME",
    "DEMO_USERNAME",
    "DEMO_USER_ID",
]
