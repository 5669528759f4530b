"""The Spanish analysis every lexical signal shares (BM25, question coverage, the answer's key
terms): lowercase words, Spanish and English stopwords and question words out, the Snowball
Spanish stemmer, accents folded ("reúne" ~ "reune").
"""

from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from functools import lru_cache

import Stemmer


def _bm25s_stopwords() -> tuple[str, ...]:
    """bm25s's Spanish stopword list, the one BM25 has always used, read from its module file
    alone: importing the package imports scipy, 0.3 s of every cold `newsbot ask`."""
    spec = importlib.util.find_spec("bm25s")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bm25s is not installed (pip install bm25s): it holds the Spanish stopwords")
    path = f"{next(iter(spec.submodule_search_locations))}/stopwords.py"
    module_spec = importlib.util.spec_from_file_location("_bm25s_stopwords", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return tuple(module.STOPWORDS_SPANISH)


STOPWORDS_SPANISH = _bm25s_stopwords()

ANALYZER_VERSION = 2  # bump when `analyze` changes, so old side indexes are rebuilt
_WORD = re.compile(r"\w+", re.UNICODE)
_local = threading.local()


def strip_accents(text: str) -> str:
    """ "reunión" → "reunion": combining marks dropped after Unicode decomposition."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


# Called for every word of every sentence an answer looks at, so cached per word.
_strip_accents = lru_cache(maxsize=200_000)(strip_accents)


# Spanish stopwords plus question words, which carry no topic ("¿cuándo?", "who"); compared
# with accents folded, since questions are typed with and without them.
_QUESTION_WORDS = "que quien quienes cual cuales cuando donde como cuanto cuanta cuantos cuantas"
# Auxiliaries that the Snowball list lacks ("¿qué se va a gastar?" is about "gastar").
_AUXILIARIES = "va van vas voy vamos ir iba iban hay habra sera seran puede pueden podria hace hizo"
_ENGLISH = (
    "the of and to in is was are were what who whom which when where how why does did do a an or not it its "
    "this that these those there for with on at by from as about into be been being am will would can could "
    "has have had get got going"
)
_STOPWORDS = (
    frozenset(_strip_accents(w) for w in STOPWORDS_SPANISH)
    | set(_QUESTION_WORDS.split())
    | set(_AUXILIARIES.split())
    | set(_ENGLISH.split())
)


def thread_stemmer(language: str) -> Stemmer.Stemmer:
    """This thread's Snowball stemmer for `language` (PyStemmer objects are not thread-safe)."""
    stemmers: dict[str, Stemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    if language not in stemmers:
        stemmers[language] = Stemmer.Stemmer(language)
    return stemmers[language]


def analyze(text: str) -> list[str]:
    """Lowercase words minus stopwords, Spanish-stemmed, accents folded (reúne ~ reune)."""
    stemmer = thread_stemmer("spanish")
    words = [
        w for w in _WORD.findall(text.lower()) if _strip_accents(w) not in _STOPWORDS and (len(w) > 1 or w.isdigit())
    ]
    return [_strip_accents(stem) for stem in stemmer.stemWords(words)]
