"""Masking a secret in every form an API may echo it back in.

An API that echoes the request (a debug field, an echo endpoint, an error that quotes the
query string) rarely hands the secret back as it was sent: JSON writes ``/`` as ``\\/`` and
non-ASCII (or, some encoders, every character) as ``\\uXXXX``; a query string comes back
percent-encoded, in upper- or lower-case hex, with ``+`` for a space; a Basic credential comes
back as the base64 of ``user:secret``. ``Masker`` finds all of these, mixed freely within one
secret, and replaces the whole occurrence with ``MASK``:

* each character of a secret may appear raw, JSON-escaped (``\\"``, ``\\\\``, ``\\/``,
  ``\\uXXXX`` with either case of hex, a surrogate pair beyond the BMP, and the doubled
  backslashes of JSON inside a JSON string), percent-encoded (UTF-8 bytes, either case, once or
  twice), ``+`` for a space, or as an HTML character reference;
* base64, standard and URL-safe, with or without padding: of the secret alone, of
  ``username:secret``, and of the secret inside any longer text (the characters of the
  encoding fixed by the secret's bytes, at each of the three byte alignments). The whole
  base64 token around such a match is masked.

The same masker runs on the raw body before parsing and on every string of the parsed data,
so what the wizard shows, what a draft stores, error snippets and log lines hold no form of a
secret. Pure: no Django, no requests.

    masker = masker_for({"s3cr3t/+="}, usernames={"demo"})
    masker.found_in(text) -> bool
    masker.mask(text) -> str
    masker.mask_data(parsed_json) -> the same structure, strings masked
"""

from __future__ import annotations

import base64
import re
from functools import cached_property, lru_cache

MASK = "••••"
# Shorter values are too likely to occur by chance in ordinary text.
MIN_SECRET_CHARS = 4
# A base64 fragment shorter than this (from a short secret at an unlucky alignment) would
# match ordinary base64 by chance; short secrets are still found as whole tokens.
MIN_BASE64_CORE = 8

_HTML_NAMED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
_JSON_SHORT = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}


def _hex_class(text: str) -> str:
    """A pattern for hex digits in either case: ``2f`` -> ``2[fF]``."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def _char_pattern(char: str) -> str:
    """Every form one character of a secret may take in an echoed body."""
    forms = [re.escape(char)]
    # JSON: \uXXXX (any character, beyond the BMP as a surrogate pair), the short escapes;
    # one or more backslashes, for JSON carried inside a JSON string.
    units = char.encode("utf-16-be")
    forms.append("".join(r"\\+u" + _hex_class(units[i : i + 2].hex()) for i in range(0, len(units), 2)))
    if char in '"\\/':
        forms.append(r"\\+" + re.escape(char))
    if char in _JSON_SHORT:
        forms.append(r"\\+" + _JSON_SHORT[char])
    # Percent-encoding of the UTF-8 bytes, once or twice (%2F, %2f, %252F).
    forms.append("".join("%(?:25)?" + _hex_class(f"{byte:02x}") for byte in char.encode("utf-8")))
    if char == " ":
        forms.append(r"\+")
    # HTML character references, as an error page would print the value.
    forms.append(f"&#0*{ord(char)};")
    forms.append("&#[xX]0*" + _hex_class(f"{ord(char):x}") + ";")
    if char in _HTML_NAMED:
        forms.append(f"&{_HTML_NAMED[char]};")
    return "(?:" + "|".join(forms) + ")"


def _encoded_pattern(value: str) -> str:
    return "".join(_char_pattern(c) for c in value)


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend only on ``raw``, wherever it sits in a longer text.

    Encoding ``prefix + raw + suffix`` splits the text into 3-byte groups; with the prefix
    ``k`` bytes long (mod 3) the characters from bit ``8k`` to bit ``8(k + len(raw))`` are
    fixed by ``raw`` alone, so one of these three strings appears in any encoding of it.
    """
    cores = set()
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw).decode("ascii")
        core = encoded[-(-8 * k // 6) : (8 * (k + len(raw))) // 6]
        if len(core) >= MIN_BASE64_CORE:
            cores.add(core)
    return cores


def _base64_forms(secret: str, usernames: frozenset[str]) -> set[str]:
    forms = set()
    encodings = ["utf-8"]
    try:
        secret.encode("latin-1")
        encodings.append("latin-1")  # what some HTTP clients use for Basic credentials
    except UnicodeEncodeError:
        pass
    for encoding in encodings:
        raw = secret.encode(encoding)
        cores = _base64_cores(raw)
        if len(cores) < 3:
            # Too short for a fragment at every alignment: look for the whole tokens instead.
            wholes = [raw] + [f"{user}:".encode(encoding, "replace") + raw for user in usernames if user]
            forms.update(base64.b64encode(whole).decode("ascii").rstrip("=") for whole in wholes)
        forms.update(cores)
    # URL-safe base64 differs only in two characters.
    forms.update([form.translate(str.maketrans("+/", "-_")) for form in forms])
    return forms


# Expanding a base64 match to its whole token: the alphabets of both variants, a JSON-escaped
# or percent-encoded "/" or "+", and trailing padding. The left side is matched on the
# reversed text, so both expansions are linear.
_B64_RIGHT = re.compile(r"(?:[A-Za-z0-9+/_-]|\\+/|%(?:25)?(?:2[bBfF]))*(?:=|%(?:25)?3[dD]|\\+u003[dD])*")
_B64_LEFT_REVERSED = re.compile(r"(?:[A-Za-z0-9+/_-]|/\\+|(?:[bBfF]2)(?:52)?%)*")
_B64_LEFT_WINDOW = 512


# One pass of decoding every escape the masker knows, to look for a secret quickly: runs of
# \\uXXXX (surrogate pairs), short JSON escapes, runs of %XX (UTF-8), HTML references.
_ESCAPES = re.compile(
    r"(?P<u>(?:\\+u[0-9a-fA-F]{4})+)|\\+(?P<short>[/\"\\])|(?P<pct>(?:%[0-9a-fA-F]{2})+)"
    r"|&#(?P<dec>[0-9]{1,7});|&#[xX](?P<hex>[0-9a-fA-F]{1,6});|&(?P<named>amp|lt|gt|quot|apos);"
)
_NAMED = {name: char for char, name in _HTML_NAMED.items()}
_DECODE_ROUNDS = 3
_AUTH_VALUE = re.compile(r"(?i)(?:basic|bearer|token|digest) ")


def _decode_escape(match: re.Match) -> str:
    kind = match.lastgroup
    text = match.group(kind)
    if kind == "u":
        units = bytes.fromhex("".join(re.findall(r"u([0-9a-fA-F]{4})", text)))
        return units.decode("utf-16-be", "replace")
    if kind == "short":
        return text
    if kind == "pct":
        return bytes.fromhex(text.replace("%", "")).decode("utf-8", "replace")
    if kind == "named":
        return _NAMED[text]
    code = int(text, 10 if kind == "dec" else 16)
    return chr(code) if code <= 0x10FFFF else ""


def _decodings(text: str):
    """``text``, then ``text`` with its escapes decoded, again, up to ``_DECODE_ROUNDS`` times."""
    yield text
    for _ in range(_DECODE_ROUNDS):
        decoded = _ESCAPES.sub(_decode_escape, text)
        if decoded == text:
            return
        yield decoded
        text = decoded


class Masker:
    """Masks a fixed set of secrets (see the module docstring); build it with ``masker_for``.

    ``found_in`` is the fast test (substring searches in the text and its decodings), run on
    everything; the slower pattern that masks mixed encodings in place runs only where it
    found something. If a decoding still holds a secret after masking (an encoding the
    pattern does not know), the whole text is replaced by ``MASK``: it fails closed.
    """

    def __init__(self, secrets: frozenset[str], usernames: frozenset[str] = frozenset()):
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        b64 = set()
        for value in values:
            # An Authorization header's value ("Basic ...", "Bearer ...") is masked whole; its
            # parts are secrets of their own, each with its base64 forms.
            if not _AUTH_VALUE.match(value):
                b64 |= _base64_forms(value, usernames)
        # What a decoded text is searched for.
        self._needles = frozenset(values) | {v.replace(" ", "+") for v in values} | b64
        # The quick test: every usual encoder (JSON, PHP's json_encode, percent-encoding,
        # HTML escaping, base64) leaves ASCII letters and digits alone, so the longest run of
        # them in a value is in the raw text wherever the value is; an encoder that escapes
        # every character writes the run's first letter as \u00XX or &#NN;.
        # (Each needle is one pass over the text: a few per secret.)
        self._anchors, self._json_escaped, self._html_escaped = set(), set(), set()
        self._always_decode = False
        for value in [*values, *b64]:
            anchor = max(re.findall(r"[A-Za-z0-9]+", value), key=len, default="")
            if len(anchor) < MIN_SECRET_CHARS:
                self._always_decode = True  # mostly symbols: no quick test
                continue
            self._anchors.add(anchor)
            if value in values:  # base64 written all-escaped is left to the Authorization value
                code = ord(anchor[0])
                self._json_escaped |= {f"\\u{code:04x}", f"\\u{code:04X}"}
                self._html_escaped |= {f"&#{code};", f"&#x{code:x};", f"&#x{code:X};"}
        # An anchor holding another is implied by it: the shorter one is the test for both.
        self._anchors = {a for a in self._anchors if not any(b != a and b in a for b in self._anchors)}
        self._values, self._b64_values = values, sorted(b64, key=len, reverse=True)

    # The in-place patterns are large (every form of every character): compiled only when a
    # text does hold a secret, since the quick test needs none of them.
    @cached_property
    def _plain(self):
        return re.compile("|".join(_encoded_pattern(v) for v in self._values)) if self._values else None

    @cached_property
    def _b64(self):
        return re.compile("|".join(_encoded_pattern(v) for v in self._b64_values)) if self._b64_values else None

    def __repr__(self):
        return "<Masker>"  # never the secrets

    def _may_hold(self, text: str) -> bool:
        if self._always_decode or any(anchor in text for anchor in self._anchors):
            return True
        if "\\u00" in text and any(escaped in text for escaped in self._json_escaped):
            return True
        return "&#" in text and any(escaped in text for escaped in self._html_escaped)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds a secret in any form this module knows."""
        if not text or not self._needles or not self._may_hold(text):
            return False
        return any(needle in decoded for decoded in _decodings(text) for needle in self._needles)

    def mask(self, text: str) -> str:
        if not self.found_in(text):
            return text
        if self._plain is not None:
            text = self._plain.sub(MASK, text)
        if self._b64 is not None:
            text = self._mask_base64(text)
        return MASK if self.found_in(text) else text

    def mask_head(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of ``text`` masked: the snippet of a large body, without
        running the in-place patterns over all of it (the data holds the rest).

        Masked before the cut, so a secret across the limit is masked whole: the head masked is
        long enough that, after masking shrank it, the last ``_reach`` characters (where a
        secret cut by the head's end can be) still lie beyond the limit.
        """
        if not self.found_in(text):
            return text[:limit]
        end = limit + 2 * self._reach
        while True:
            masked = self.mask(text[:end])
            if end >= len(text) or len(masked) >= limit + self._reach:
                return masked[:limit]
            end *= 2

    @cached_property
    def _reach(self) -> int:
        """More than the longest form of a secret: 7 characters per character (\\\\u00e9,
        %25C3%25A9 per byte pair) plus a base64 token's surroundings."""
        longest = max((len(v) for v in [*self._values, *self._b64_values]), default=0)
        return 12 * longest + _B64_LEFT_WINDOW

    def _mask_base64(self, text: str) -> str:
        out, last = [], 0
        for match in self._b64.finditer(text):
            start, end = match.span()
            if start < last:
                continue  # inside the token the previous match was expanded to
            window = text[max(last, start - _B64_LEFT_WINDOW) : start][::-1]
            start -= _B64_LEFT_REVERSED.match(window).end()
            end = _B64_RIGHT.match(text, end).end()
            out.append(text[last:start])
            out.append(MASK)
            last = end
        out.append(text[last:])
        return "".join(out)

    def mask_data(self, value):
        """``value`` (parsed JSON) with every string, keys included, masked."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, list):
            return [self.mask_data(v) for v in value]
        if isinstance(value, dict):
            return {self.mask(k) if isinstance(k, str) else k: self.mask_data(v) for k, v in value.items()}
        return value


@lru_cache(maxsize=64)
def _cached(secrets: frozenset[str], usernames: frozenset[str]) -> Masker:
    return Masker(secrets, usernames)


def masker_for(secrets, usernames=()) -> Masker:
    """The masker for these secret values (and, for Basic credentials, these user names)."""
    return _cached(
        frozenset(str(s) for s in secrets if s),
        frozenset(str(u) for u in usernames if u),
    )
