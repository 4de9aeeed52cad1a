"""Settings for Metric Builder, read from the environment.

Every variable is listed in the README. The defaults run the embedded setup
(SQLite, a file-system Celery broker, a generated development key); production
sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and FIELD_ENCRYPTION_KEYS.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from config.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_timezone,
    local_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Generated development keys, the SQLite file and the embedded broker live here; git ignores it.
LOCAL_DIR = Path(env_str("LOCAL_DIR", str(BASE_DIR / ".local")))

DEBUG = env_bool("DEBUG", False)

# Without SECRET_KEY or FIELD_ENCRYPTION_KEYS, development keys are generated
# into LOCAL_DIR; the system check config.E001 refuses that when DEBUG is off.
SECRET_KEY = env_secret("SECRET_KEY")
GENERATED_KEYS = []
if not SECRET_KEY:
    GENERATED_KEYS.append("SECRET_KEY")
    SECRET_KEY = local_secret(LOCAL_DIR / "secret_key", get_random_secret_key)

# Fernet keys for credentials at rest, comma-separated, newest first: the first
# encrypts, all decrypt, so a new key can be rolled out before re-encrypting.
FIELD_ENCRYPTION_KEYS = [
    key.strip() for key in (env_secret("FIELD_ENCRYPTION_KEYS") or "").replace("\n", ",").split(",") if key.strip()
]
if not FIELD_ENCRYPTION_KEYS:
    GENERATED_KEYS.append("FIELD_ENCRYPTION_KEYS")
    FIELD_ENCRYPTION_KEYS = [local_secret(LOCAL_DIR / "fernet_key", lambda: Fernet.generate_key().decode())]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Outbound requests to private, loopback and link-local addresses are refused
# unless this is on: development, tests and the sandbox need it.
ALLOW_PRIVATE_HOSTS = env_bool("ALLOW_PRIVATE_HOSTS", False)
OUTBOUND_CONNECT_TIMEOUT = env_float("OUTBOUND_CONNECT_TIMEOUT", 5.0)
OUTBOUND_READ_TIMEOUT = env_float("OUTBOUND_READ_TIMEOUT", 30.0)
OUTBOUND_MAX_BYTES = env_int("OUTBOUND_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

# The site's public address, for links in emails (alerts, scorecards) and the login URL
# seed_demo prints; by default where `make run` serves it (the Procfile's WEB_PORT).
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{env_int('WEB_PORT', 8000, minimum=1)}")

# The Vtiger sandbox that `make run` starts; the demo connection points at it.
# The Procfile starts the sandbox on SANDBOX_PORT; the demo connection follows it.
SANDBOX_URL = env_str("SANDBOX_URL", f"http://127.0.0.1:{env_int('SANDBOX_PORT', 8001, minimum=1)}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "accounts",
    "notifications",
    "connections",
    "builder",
    "syncs",
    "dashboards",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    # Last: it turns a refused sign-in (too many failures) into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "notifications.context_processors.unread_notifications",
            ],
            # {% partialdef %} in every template, for htmx fragments ("page.html#name").
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", f"sqlite:///{LOCAL_DIR / 'db.sqlite3'}"),
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django can use: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is shared by the web server and the worker: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not memory, so a Celery worker started by the tests shares the test
    # database; one per test run, so two runs at once don't trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(LOCAL_DIR / f"test_db_{os.getpid()}.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
else:
    # One test database per test run here too, so two runs against one server don't collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one account, or
# from one address, sign-in is refused for AXES_COOLOFF_MINUTES (each further failure restarts the
# wait); admins unlock in Django admin (Axes > Access attempts) or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked accounts before checking a password
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# Comma-separated rules, each counted on its own: "username" (per account), "ip_address" (per
# address); "+" combines, e.g. "ip_address+username" (an account from one address).
AXES_LOCKOUT_PARAMETERS = [
    rule.split("+") if "+" in rule else rule for rule in env_list("AXES_LOCKOUT_PARAMETERS", ["username", "ip_address"])
]
# Behind N reverse proxies (TRUSTED_PROXY_COUNT) the client's address is the Nth from the right in
# X-Forwarded-For; with 0 (the default) it is the connection's address (a proxy's, if there is one).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "USD")  # ISO 4217, a code in builder.currencies
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic writes and the production server serves from.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Front-end libraries come from npm (package.json; `make install` runs npm ci); of those,
# config.staticfiles.VendorFinder serves only the files the templates load, as vendor/...
NODE_MODULES_DIR = BASE_DIR / "node_modules"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.staticfiles.VendorFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Before `collectstatic` has run (development, tests), serve straight from static/.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG or not STATIC_ROOT.is_dir()

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Replaces the strict default of config.security (for example to add report-uri); keep it strict.
CONTENT_SECURITY_POLICY = env_str("CONTENT_SECURITY_POLICY", "")
# HTTPS (see the README's production section). SECURE_PROXY_SSL_HEADER trusts a TLS-
# terminating proxy's `X-Forwarded-Proto: https`; only behind a proxy that sets or strips
# that header on every request, or a client could claim HTTPS.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", False) else None

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Metric Builder <metrics@localhost>")

# Celery. The default broker is kombu's file-system transport: no server to run.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = LOCAL_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest sync, so a slow task is not delivered twice while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
# Celery's prefork pool, made safe against a killed pool process on a polling broker such as the
# file-system one (an idle process no longer holds the job pipe's lock while it waits), and
# giving a killed sync's lease back at once so its requeued message runs again (config/pool.py).
CELERY_WORKER_POOL = "config.pool:TaskPool"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up otherwise closes the database connection around every task.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000, minimum=1)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(LOCAL_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "metricbuilder")
CELERY_BEAT_SCHEDULE = {
    "retest-failing-connections": {"task": "connections.retest_failing", "schedule": 600.0},
    "purge-stale-drafts": {"task": "builder.purge_stale_drafts", "schedule": 24 * 3600.0},
    # Claims the due metrics and enqueues one sync each (syncs.dispatcher).
    "dispatch-due-syncs": {"task": "syncs.dispatch", "schedule": 60.0},
    # Closes runs stuck in "running" after their worker died, and frees their leases.
    "reap-stuck-syncs": {"task": "syncs.reap", "schedule": 120.0},
    # Emails the scorecards whose local sending hour has come (dashboards.scorecards.is_due).
    "send-due-scorecards": {"task": "dashboards.send_scorecards", "schedule": 900.0},
}

# Wizard drafts untouched this long are deleted (a stored response can be megabytes).
DRAFT_MAX_AGE_DAYS = env_int("DRAFT_MAX_AGE_DAYS", 30, minimum=1)

# Syncs (see the README): retries, pausing, leases and the shared rate limiter.
SYNC_MAX_RETRIES = env_int("SYNC_MAX_RETRIES", 4, minimum=0)
SYNC_RETRY_BASE_SECONDS = env_float("SYNC_RETRY_BASE_SECONDS", 30.0)
SYNC_RETRY_MAX_SECONDS = env_float("SYNC_RETRY_MAX_SECONDS", 900.0)
SYNC_MAX_FAILURES = env_int("SYNC_MAX_FAILURES", 3, minimum=1)
SYNC_STALE_SECONDS = env_float("SYNC_STALE_SECONDS", 300.0)
SYNC_CLAIM_TTL_SECONDS = env_float("SYNC_CLAIM_TTL_SECONDS", 3600.0)
SYNC_MIN_INTERVAL_MINUTES = env_int("SYNC_MIN_INTERVAL_MINUTES", 5, minimum=1)
SYNC_RATELIMIT_URL = env_str("SYNC_RATELIMIT_URL", "")
SYNC_BATCH_SIZE = env_int("SYNC_BATCH_SIZE", 20, minimum=1)

# Expressions run in a box (builder/expression_box.py): this many worker processes per web or
# Celery process, each limited to this much memory and killed and replaced when an evaluation
# overruns its time limit (500 ms in the wizard, 5 s in a sync); a caller waits this long for a
# free worker before it is told to try again.
EXPRESSION_WORKERS = env_int("EXPRESSION_WORKERS", 2, minimum=1)
EXPRESSION_MEMORY_MB = env_int("EXPRESSION_MEMORY_MB", 512, minimum=64)
EXPRESSION_QUEUE_WAIT_MS = env_int("EXPRESSION_QUEUE_WAIT_MS", 1000, minimum=0)
# Celery's time limits (seconds) on one sync task (a batch of up to SYNC_BATCH_SIZE syncs), behind
# the box: the soft limit fails the sync running then, the hard one kills the pool process.
SYNC_TASK_SOFT_TIME_LIMIT = env_int("SYNC_TASK_SOFT_TIME_LIMIT", 900, minimum=10)
SYNC_TASK_TIME_LIMIT = env_int("SYNC_TASK_TIME_LIMIT", 960, minimum=11)
if SYNC_TASK_TIME_LIMIT <= SYNC_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("SYNC_TASK_TIME_LIMIT must be above SYNC_TASK_SOFT_TIME_LIMIT.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes announces itself and every reset at INFO, on every command; lockouts are warnings.
    "loggers": {"axes": {"level": "WARNING"}},
}
