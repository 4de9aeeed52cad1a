"""Names people give things (metrics, boards, scorecards): one rule for all, and one cleaner.

A name goes into page titles, e-mail subjects, file names and CSV headers. A line break in one
breaks a mail header (Django refuses to send it) or a download's Content-Disposition; a NUL or
a bell is noise; a right-to-left override makes ``Report\u202egpj.exe`` read as ``Reportexe.jpg``.
So a name may not contain:

* control characters (Unicode category Cc: NUL, tab, CR, LF, DEL, the C1 controls ...),
* the line and paragraph separators U+2028 and U+2029,
* the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).

``validate_name`` is a Django validator for forms and models; ``single_line`` cleans text that
was saved before the rule (or comes from elsewhere) for a header: breaks and tabs become a
space, the other characters above go, spaces are squeezed. Pure: no models.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

NAME_MESSAGE = "A name can't contain line breaks, tabs or other control characters: type it on one line."
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SEPARATORS = frozenset("\u2028\u2029")


def is_forbidden(char: str) -> bool:
    return char in _BIDI_CONTROLS or char in _SEPARATORS or unicodedata.category(char) == "Cc"


def forbidden_characters(text: str) -> list[str]:
    """The forbidden characters in ``text``, as ``U+000A``, in order of first appearance."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in str(text or "") if is_forbidden(c)))


def validate_name(value) -> None:
    if forbidden_characters(value):
        raise ValidationError(NAME_MESSAGE, code="control_characters")


def single_line(text) -> str:
    """``text`` fit for a header or a file name (see the module docstring)."""
    kept = "".join(" " if c.isspace() else c for c in str(text or "") if c.isspace() or not is_forbidden(c))
    return " ".join(kept.split())
