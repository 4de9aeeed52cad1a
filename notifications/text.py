"""Text fit for one line: a mail header, a file name, a CSV header. Pure: no Django, no models.

A line break in a subject breaks the mail header (Django refuses to send it) and one in a
download's Content-Disposition breaks the header too; a NUL or a bell is noise; a right-to-left
override makes ``Report\u202egpj.exe`` read as ``Reportexe.jpg``. So these characters are
forbidden in one-line text:

* control characters (Unicode category Cc: NUL, tab, CR, LF, DEL, the C1 controls ...),
* the line and paragraph separators U+2028 and U+2029,
* the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).

It lives here, at the bottom of the house, because the notifier makes every subject one line
and every app above may clean a name with it (``builder.validators`` rejects names holding them).
"""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SEPARATORS = frozenset("\u2028\u2029")


def is_forbidden(char: str) -> bool:
    return char in _BIDI_CONTROLS or char in _SEPARATORS or unicodedata.category(char) == "Cc"


def single_line(text) -> str:
    """``text`` on one line: breaks and tabs become a space, the other forbidden characters go,
    spaces are squeezed (for text saved before the rule, or coming from elsewhere)."""
    kept = "".join(" " if c.isspace() else c for c in str(text or "") if c.isspace() or not is_forbidden(c))
    return " ".join(kept.split())
