"""The integration catalogue: the registry and its forgiving search.

integrations.get("vtiger").form_class
integrations.search("tvitger")  # -> [Vtiger, Vtiger self-hosted]

This module imports nothing from the integrations: their forms and tests use the Connection
model, and the model finds its integration here (``Connection.integration_module``), so the
imports run one way. ``ConnectionsConfig.ready()`` registers the integrations once the models
are loaded.
"""

import re

from rapidfuzz import fuzz

__all__ = ["REGISTRY", "all_integrations", "get", "get_or_raise", "register", "search"]

# slug -> Integration, in catalogue order (the order of register()).
REGISTRY = {}

# A query word matches a catalogue word at or above this similarity (0-100):
# one swapped or missing letter in a six-letter word still passes.
MATCH_THRESHOLD = 75


def register(*integrations):
    """Add `integrations` to the catalogue, in the order given.

    Registering the same one again changes nothing (Django may call ``ready()`` twice when apps are
    reloaded); a different integration under a slug already taken is refused.
    """
    for integration in integrations:
        registered = REGISTRY.setdefault(integration.slug, integration)
        if registered is not integration:
            raise ValueError(f"Another integration is already registered as {integration.slug!r}.")


def get(slug):
    """The Integration for `slug`, or None when there is no such integration."""
    return REGISTRY.get(str(slug))


def get_or_raise(slug):
    integration = get(slug)
    if integration is None:
        raise LookupError(f"Unknown integration {slug!r}; choose one of: {', '.join(REGISTRY)}.")
    return integration


def all_integrations():
    return list(REGISTRY.values())


def _words(text):
    return re.findall(r"[a-z0-9]+", (text or "").lower())


def _word_score(token, words):
    """How well one query word matches the best of `words`, 0-100."""
    best = 0
    for word in words:
        if word == token:
            return 100
        if word.startswith(token) or (len(token) >= 3 and token in word):
            best = max(best, 95)
        elif len(token) >= 3:
            # Compare with the word and with its start, so a typo in a partial word still counts.
            best = max(best, fuzz.ratio(token, word), fuzz.ratio(token, word[: len(token)]) - 5)
    return best


def _score(integration, tokens):
    name_words = _words(integration.name) + _words(integration.slug)
    keyword_words = [w for k in integration.keywords for w in _words(k)]
    description_words = [w for w in _words(integration.description) if len(w) > 3]
    total = 0.0
    for token in tokens:
        raw = [_word_score(token, words) for words in (name_words, keyword_words, description_words)]
        # Every query word must match something, or the card isn't what was asked for.
        if max(raw) < MATCH_THRESHOLD:
            return 0.0
        # A match in the name ranks above one in the keywords, above one in the description.
        total += max(score * weight for score, weight in zip(raw, (1.0, 0.9, 0.8), strict=True))
    return total / len(tokens)


def search(text):
    """Integrations matching `text`, best first; forgiving about case, partial words and small typos."""
    tokens = _words(text)
    if not tokens:
        return all_integrations()
    scored = [(_score(integration, tokens), index, integration) for index, integration in enumerate(REGISTRY.values())]
    return [integration for score, _, integration in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]
