from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from builder import (
    expression_box,
    receivers,  # noqa: F401 - importing it connects the signal receivers
)
from builder.checks import default_currency_is_known


class BuilderConfig(AppConfig):
    name = "builder"
    verbose_name = "Metric Builder"

    def ready(self):
        checks.register(default_currency_is_known)
        expression_box.configure(
            workers=settings.EXPRESSION_WORKERS,
            memory_mb=settings.EXPRESSION_MEMORY_MB,
            queue_wait_ms=settings.EXPRESSION_QUEUE_WAIT_MS,
        )
