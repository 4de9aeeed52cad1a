"""Shared output for the connection commands: words by default, one JSON object with --json."""

import json

from django.core.management.base import CommandError


def emit(command, options, payload, words):
    if options.get("json"):
        command.stdout.write(json.dumps(payload, default=str, ensure_ascii=False))
    else:
        command.stdout.write(words)


def fail(command, options, message, payload=None):
    """Print the failure (as JSON with --json) and exit non-zero through CommandError."""
    if options.get("json"):
        command.stdout.write(
            json.dumps({"ok": False, "error": message, **(payload or {})}, default=str, ensure_ascii=False)
        )
    raise CommandError(message)


def connection_dict(connection):
    """What a script may know about a connection: never a credential."""
    return {
        "name": connection.name,
        "uuid": str(connection.uuid),
        "integration": connection.integration,
        "base_url": connection.base_url,
        "status": connection.status,
        "status_label": connection.get_status_display(),
        "last_success_at": connection.last_success_at.isoformat() if connection.last_success_at else None,
        "last_tested_at": connection.last_tested_at.isoformat() if connection.last_tested_at else None,
        "last_error": connection.last_error,
        "rate_limit_per_minute": connection.rate_limit_per_minute,
    }
