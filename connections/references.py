"""Labels for reference values: a Vtiger reference such as ``19x5`` (a user) or ``11x42`` (an account)
read as the record's name ("Ada Admin", "Acme Ltd").

The raw id stays the key everywhere (datapoints, breakdown lines, exports); the label is only what
a reader sees, so a renamed user keeps one line.
"""

from __future__ import annotations

from collections.abc import Iterable


def labels_for(connection, keys: Iterable[str]) -> dict[str, str]:
    """The labels known for these keys on this connection: {key: label}; a key without a label is left out.

    Interim: no label is known yet (the lookup through the API and its cache come next).
    """
    return {}
