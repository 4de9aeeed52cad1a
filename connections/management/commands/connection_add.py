"""manage.py connection_add: create a connection from the command line, tested live first.

Validates through the same form as the Data Manager, tests the credentials, and
saves only when the test passes. Secrets come from a file or an environment
variable, never from the command line (where `ps` and shell history would see them).
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connections import integrations, services
from connections.integrations.vtiger_cloud import PLANS
from connections.management.commands._output import connection_dict, emit, fail

AUTH_CHOICES = {
    "none": "none",
    "basic": "basic",
    "bearer": "bearer",
    "api-key-header": "api_key_header",
    "api-key-query": "api_key_query",
}
# The custom form's secret field for each auth type.
SECRET_FIELD_BY_AUTH = {
    "basic": "password",
    "bearer": "token",
    "api_key_header": "api_key_value",
    "api_key_query": "api_key_value",
}
# Options that make sense per integration; anything else given is an error, not silently ignored.
OPTIONS_BY_INTEGRATION = {
    "vtiger": {"subdomain", "instance_url", "username", "secret", "plan", "rate_limit"},
    "vtiger-selfhosted": {"instance_url", "username", "secret", "rate_limit"},
    "custom": {
        "base_url",
        "username",
        "secret",
        "auth",
        "api_key_name",
        "rate_limit",
        "header",
        "allow_post",
        "docs_url",
        "data_timezone",
        "test_path",
    },
}


def read_secret(file_path, env_name, what):
    """The secret from a file (trailing newline removed) or an environment variable."""
    if file_path and env_name:
        raise CommandError(f"Give the {what} with a file or an environment variable, not both.")
    if file_path:
        try:
            value = Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(f"The {what} file {file_path} can't be read: {exc.strerror}.") from None
        if not value:
            raise CommandError(f"The {what} file {file_path} is empty.")
        return value
    if env_name:
        value = os.environ.get(env_name, "").strip()
        if not value:
            raise CommandError(f"The environment variable {env_name} is not set or empty.")
        return value
    return ""


class Command(BaseCommand):
    help = "Add a connection: validate, test it live, and save it only if the test passes."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The connection's name (unique).")
        parser.add_argument("--integration", required=True, choices=list(integrations.REGISTRY))
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--subdomain", help="Vtiger Cloud: the part before .vtiger.com (acme, acme.od2).")
        where.add_argument("--instance-url", help="Vtiger: the instance URL (overrides the subdomain on Cloud).")
        where.add_argument("--base-url", help="Custom REST API: the base URL every endpoint is relative to.")
        parser.add_argument("--username", help="Vtiger user name, or the Basic auth user name.")
        parser.add_argument("--access-key-file", help="Vtiger: a file holding the access key.")
        parser.add_argument("--access-key-env", help="Vtiger: an environment variable holding the access key.")
        parser.add_argument("--secret-file", help="Custom: a file holding the password, token or API key.")
        parser.add_argument("--secret-env", help="Custom: an environment variable holding the secret.")
        parser.add_argument("--plan", choices=list(PLANS), help="Vtiger Cloud plan (sets the rate budget).")
        parser.add_argument("--auth", choices=list(AUTH_CHOICES), help="Custom: how to authenticate.")
        parser.add_argument("--api-key-name", help="Custom: the header or query parameter carrying the API key.")
        parser.add_argument("--rate-limit", type=int, help="Rate budget in requests per minute.")
        parser.add_argument(
            "--header", action="append", default=[], help="Custom: a default header 'Name: value' (repeatable)."
        )
        parser.add_argument("--allow-post", action="store_true", help="Custom: allow POST with a JSON body.")
        parser.add_argument("--docs-url", help="Custom: the API documentation URL.")
        parser.add_argument("--data-timezone", help="Custom: the time zone of naive dates in the data.")
        parser.add_argument("--test-path", help="Custom: an endpoint called to test the credentials.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of words.")

    def handle(self, *args, **options):
        slug = options["integration"]
        integration = integrations.get_or_raise(slug)
        self._refuse_foreign_options(slug, options)
        data = self._form_data(slug, options)
        form = integration.form_class(data)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[f].label if f in form.fields else 'Form'}: {' '.join(errors)}"
                for f, errors in form.errors.items()
            )
            fail(self, options, f"The connection is not valid: {problems}", {"errors": form.errors.get_json_data()})
        connection, outcome = services.create_connection(integration, form.cleaned_data, user=None)
        if connection is None:
            fail(self, options, f"Nothing was saved: {outcome.message}", {"outcome": outcome.as_dict()})
        tested = "" if outcome.status == "new" else " and tested"
        emit(
            self,
            options,
            {"ok": True, "created": True, "connection": connection_dict(connection), "outcome": outcome.as_dict()},
            f"Created{tested} connection “{connection.name}” ({integration.name}): {outcome.message}",
        )

    def _refuse_foreign_options(self, slug, options):
        given = {
            "subdomain": options["subdomain"],
            "instance_url": options["instance_url"],
            "base_url": options["base_url"],
            "username": options["username"],
            "secret": options["access_key_file"]
            or options["access_key_env"]
            or options["secret_file"]
            or options["secret_env"],
            "plan": options["plan"],
            "auth": options["auth"],
            "api_key_name": options["api_key_name"],
            "rate_limit": options["rate_limit"],
            "header": options["header"],
            "allow_post": options["allow_post"],
            "docs_url": options["docs_url"],
            "data_timezone": options["data_timezone"],
            "test_path": options["test_path"],
        }
        foreign = sorted(
            k for k, v in given.items() if v not in (None, "", [], False) and k not in OPTIONS_BY_INTEGRATION[slug]
        )
        if foreign:
            names = ", ".join("--" + k.replace("_", "-") for k in foreign)
            raise CommandError(f"{names} can't be used with --integration {slug}.")

    def _form_data(self, slug, options):
        key_given = options["access_key_file"] or options["access_key_env"]
        secret_given = options["secret_file"] or options["secret_env"]
        if key_given and secret_given:
            raise CommandError(
                "Give either --access-key-file/--access-key-env or --secret-file/--secret-env, not both."
            )
        if key_given:
            secret = read_secret(options["access_key_file"], options["access_key_env"], "access key")
        else:
            secret = read_secret(options["secret_file"], options["secret_env"], "secret")
        data = {"name": options["name"], "rate_limit_per_minute": options["rate_limit"] or ""}
        if slug == "vtiger":
            data.update(
                subdomain=options["subdomain"] or "",
                instance_url=options["instance_url"] or "",
                username=options["username"] or "",
                access_key=secret,
                plan=options["plan"] or "growth",
            )
        elif slug == "vtiger-selfhosted":
            data.update(
                instance_url=options["instance_url"] or "", username=options["username"] or "", access_key=secret
            )
        else:
            auth = AUTH_CHOICES[options["auth"] or "none"]
            if secret and auth == "none":
                raise CommandError(
                    "A secret was given but --auth is none: choose basic, bearer, api-key-header or api-key-query."
                )
            data.update(
                base_url=options["base_url"] or "",
                auth_type=auth,
                username=options["username"] or "",
                api_key_name=options["api_key_name"] or "",
                default_headers="\n".join(options["header"]),
                allowed_methods="GET,POST" if options["allow_post"] else "GET",
                docs_url=options["docs_url"] or "",
                data_timezone=options["data_timezone"] or "UTC",
                test_path=options["test_path"] or "",
            )
            if auth in SECRET_FIELD_BY_AUTH:
                data[SECRET_FIELD_BY_AUTH[auth]] = secret
        return data
