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


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*_LANGUAGES).with_preloaded_language_models().build()


def detect_language(text: str, default: str = "es") -> str:
    """ISO 639-1 code of `text`'s language, or `default` when there is too little to tell."""
    sample = text[:2000]
    if sum(ch.isalpha() for ch in sample) < 2:
        return default
    with _lock:  # building the detector is not something two threads should do at once
        detector = _detector()
    language = detector.detect_language_of(sample)
    if language is None:
        return default
    code: IsoCode639_1 = language.iso_code_639_1
    return str(code.name).lower()
