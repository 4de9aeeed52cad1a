"""Names people give things (metrics, databoards, scorecards): one rule for all, and one cleaner.

A name goes into page titles, e-mail subjects, file names and CSV headers. A line break in one
breaks a mail header (Django refuses to send it) or a download's Content-Disposition; a NUL or
a bell is noise; a right-to-left override makes ``Report\u202egpj.exe`` read as ``Reportexe.jpg``.
So a name may not contain:

* control characters (Unicode category Cc: NUL, tab, CR, LF, DEL, the C1 controls ...),
* the line and paragraph separators U+2028 and U+2029,
* the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).

``validate_name`` is a Django validator for forms and models. The rule itself (``is_forbidden``)
and ``single_line``, which cleans text saved before the rule for a header, live in
``notifications.text``, at the bottom of the house, because the notifier needs them too.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

# The character rule is the notifier's (it makes every mail subject one line); names follow it.
from notifications.text import is_forbidden, single_line

__all__ = ["NAME_MESSAGE", "forbidden_characters", "is_forbidden", "single_line", "validate_name"]

NAME_MESSAGE = "A name can't contain line breaks, tabs or other control characters: type it on one line."


def forbidden_characters(text: str) -> list[str]:
    """The forbidden characters in ``text``, as ``U+000A``, in order of first appearance."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in str(text or "") if is_forbidden(c)))


def validate_name(value) -> None:
    if forbidden_characters(value):
        raise ValidationError(NAME_MESSAGE, code="control_characters")
