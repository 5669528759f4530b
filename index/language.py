"""Language identification with lingua, whose models ship inside its wheel (no download)."""

from __future__ import annotations

import threading
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# The languages a news desk here meets; a small set keeps the detector fast and sure on
# short questions ("¿y cuándo?"). Anything else falls back to the closest of these.
_LANGUAGES = (
    Language.SPANISH,
    Language.ENGLISH,
    Language.PORTUGUESE,
    Language.FRENCH,
    Language.ITALIAN,
    Language.GERMAN,
    Language.CATALAN,
)
_lock = threading.Lock()


# Below this distance between the two likeliest languages the text is too short to tell
# ("Presas"), and the default (the collection's main language) is the better guess.
MIN_RELATIVE_DISTANCE = 0.1


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    # Models load lazily (~0.6 s on first use) rather than preloaded (~2 s): cold start matters.
    builder = LanguageDetectorBuilder.from_languages(*_LANGUAGES)
    return builder.with_minimum_relative_distance(MIN_RELATIVE_DISTANCE).build()


def detect_language(text: str, default: str = "es") -> str:
    """ISO 639-1 code of `text`'s language, or `default` when there is too little to tell."""
    sample = text[:2000]
    if sum(ch.isalpha() for ch in sample) < 2:
        return default
    if sample.lstrip()[:1] in ("¿", "¡"):
        # Only Spanish opens questions and exclamations this way; a foreign name in the
        # question ("¿Qué son las Ergänzungsschulen?") must not turn it German.
        return "es"
    with _lock:  # building the detector is not something two threads should do at once
        detector = _detector()
    language = detector.detect_language_of(sample)
    if language is None:
        return default
    code: IsoCode639_1 = language.iso_code_639_1
    return str(code.name).lower()
