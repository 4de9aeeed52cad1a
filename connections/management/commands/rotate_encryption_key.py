"""manage.py rotate_encryption_key: re-encrypt every connection's credentials with the first key.

To roll a key: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones
after it), restart, run this command, then remove the old keys. Old keys keep
decrypting while it runs, so nothing stops working in between.
"""

from django.core.management.base import BaseCommand

from connections import services
from connections.management.commands._output import emit, fail


class Command(BaseCommand):
    help = "Re-encrypt every connection's credentials with the first key in FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of words.")

    def handle(self, *args, **options):
        counts, failed = services.rotate_secrets()
        payload = {"ok": not failed, **counts, "failed_connections": failed}
        if failed:
            fail(
                self,
                options,
                f"Re-encrypted {counts['rotated']} connection(s), but {len(failed)} could not be decrypted with any "
                f"key in FIELD_ENCRYPTION_KEYS: {', '.join(failed)}. Add the key they were saved with back to "
                "FIELD_ENCRYPTION_KEYS and run this again, or re-enter their credentials.",
                payload,
            )
        words = f"Re-encrypted {counts['rotated']} connection(s) with the first key."
        if counts["empty"]:
            words += f" {counts['empty']} had no stored credentials."
        if counts["changed_meanwhile"]:
            words += f" {counts['changed_meanwhile']} changed while this ran and were left as saved."
        emit(self, options, payload, words)
