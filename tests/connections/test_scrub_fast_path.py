"""scrub's fast path (a pattern runs only on ASCII text holding one of its words) changes no output."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from connections.errors import _GENERIC_SECRET_PATTERNS, MASK, SECRET_PARAM_NAMES, scrub
from connections.masking import masker_for

SECRET = "s3cr3t-Value-42"


def every_pattern(text, secrets=(), usernames=()):
    """scrub as it was before the fast path: mask, then every pattern on every text."""
    text = masker_for(secrets, usernames).mask(str(text))
    for pattern, replacement, _words in _GENERIC_SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


CREDENTIAL_WORDS = sorted({"authorization", "bearer", "basic", *SECRET_PARAM_NAMES})
SHAPES = [
    "{word}=abcdef123456&page=2",
    "{word}: abcdef123456",
    '{{"{word}": "abcdef123456", "n": 1}}',
    "{word} abcdef123456",
    "x{word}=abcdef123456",  # a name inside a longer word is no parameter
    "<p>{word}</p>",  # the word with nothing after it
]
# The same shapes spelled in other cases, with a non-ASCII character beside them, and with the
# long s and the Kelvin sign, which (?i) matches as s and k while lower() keeps the long s.
SPELLINGS = [
    str,
    str.upper,
    str.title,
    lambda word: word + " café",
    lambda word: word.replace("s", "ſ"),
    lambda word: word.replace("k", "K"),
]

TEXTS = [
    shape.format(word=spell(word)) for word, shape, spell in itertools.product(CREDENTIAL_WORDS, SHAPES, SPELLINGS)
] + [
    "",
    "a plain body with no credential in it",
    '{"success": true, "result": [{"createdtime": "2026-11-30 12:00:00", "id": "10x1"}]}',
    f"the secret itself: {SECRET} and again {SECRET.upper()}",
    f"Authorization: Basic ZGVtbzpzZWNyZXQ= api_key={SECRET}&page=2",
    f"already masked {MASK} token={MASK}",
    "ﬁle=ſecret=abcdef123456",  # a ligature and the long s
]


def test_the_fast_path_gives_what_every_pattern_gives():
    for text in TEXTS:
        assert scrub(text, [SECRET], ["demo"]) == every_pattern(text, [SECRET], ["demo"]), text


def test_the_inputs_reach_both_paths_and_some_are_masked():
    """The set above is worth comparing on: ASCII and not, and patterns that match and do not."""
    ascii_texts = [text for text in TEXTS if text.isascii()]
    assert ascii_texts and len(ascii_texts) < len(TEXTS)
    assert any(MASK in every_pattern(text) for text in ascii_texts)
    assert any(MASK in every_pattern(text) for text in TEXTS if not text.isascii())
    assert any(MASK not in every_pattern(text) for text in ascii_texts)


FRAGMENTS = st.sampled_from(
    [*CREDENTIAL_WORDS, "=", ":", " ", '"', "'", "&", "abcdef123456", "ZGVtbzpzZWNyZXQ=", "é", "ſ", "K", "x", "_", "-"]
)


@given(st.lists(FRAGMENTS, max_size=12).map("".join))
def test_any_mix_of_credential_words_gives_the_same_output(text):
    assert scrub(text) == every_pattern(text)
