"""manage.py import_metrics FILE [--rename] [--json]: create metrics from an exported file, all or nothing."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from builder import portability


class Command(BaseCommand):
    help = (
        "Create metrics from a metric-builder/metrics@1 JSON file (or - for stdin). Everything is checked "
        "first; if anything is wrong, each problem is printed with its field path and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The JSON file to import, or - to read stdin.")
        parser.add_argument(
            "--rename",
            action="store_true",
            help='Give a metric whose name is taken a free one ("Name (copy)") instead of refusing the file.',
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of words.")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            if path == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(path, "rb") as handle:
                    data = handle.read()
        except OSError as exc:
            self._fail(options, [("", f"Cannot read {path}: {exc.strerror or exc}.")])
        document, errors = portability.loads(data)
        if errors:
            self._fail(options, errors)
        result = portability.import_document(document, rename=options["rename"])
        if not result.ok:
            self._fail(options, result.errors)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        lines = [f"Imported {len(result.created)} metric{'s' if len(result.created) != 1 else ''}:"]
        lines += [f"  {metric.name}" for metric in result.created]
        lines += [f"Renamed {old!r} to {new!r}: the name was taken." for old, new in result.renamed]
        self.stdout.write("\n".join(lines))

    def _fail(self, options, errors):
        count = len(errors)
        summary = f"Nothing was imported: {count} problem{'s' if count != 1 else ''} found."
        if options["json"]:
            payload = portability.Result(errors=errors).as_dict()
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
        else:
            self.stderr.write(summary)
            for path, message in errors:
                self.stderr.write(f"  {path or '(file)'}: {message}")
        raise CommandError(summary)
