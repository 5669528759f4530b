"""The English <-> Spanish news glossary that lets BM25 match a question against articles in the
other language: "How much did the company invest?" also looks for "invertir" and "empresa".

The dense side already reaches across languages, but multilingual-e5 prefers a text in the
question's own language, and BM25 finds only the names and figures the two languages share, so
without this an English question on Spanish articles finds the right article first far less
often than a Spanish one. The glossary is the project's own (glossary_en_es.tsv, written for it;
see docs/glossary.md): one `english<TAB>spanish` pair a line, general news vocabulary.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .analysis import _STOPWORDS, _WORD, _strip_accents, analyze, thread_stemmer

GLOSSARY_PATH = Path(__file__).with_name("glossary_en_es.tsv")
# Longest phrase either side of the glossary holds, in content words.
MAX_PHRASE = 3


def _english_keys(text: str) -> tuple[str, ...]:
    """English content words, English-stemmed ("invested" ~ "invest"), the glossary's keys."""
    words = [w for w in _WORD.findall(text.lower()) if _strip_accents(w) not in _STOPWORDS and not w.isdigit()]
    return tuple(thread_stemmer("english").stemWords(words))


def _spanish_keys(text: str) -> tuple[str, ...]:
    """Spanish content words as BM25 indexes them (Spanish stem, accents folded)."""
    return tuple(w for w in analyze(text) if not w.isdigit())


@dataclass(frozen=True)
class Glossary:
    """Phrase keys (a tuple of stems) → the other language's words, one table per direction."""

    to_spanish: dict[tuple[str, ...], tuple[str, ...]]  # keyed by English stems
    to_english: dict[tuple[str, ...], tuple[str, ...]]  # keyed by Spanish stems

    @classmethod
    def read(cls, path: Path = GLOSSARY_PATH) -> Glossary:
        to_spanish: dict[tuple[str, ...], list[str]] = defaultdict(list)
        to_english: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for line in path.read_text(encoding="utf-8").splitlines():
            english, spanish = line.split("\t")
            if (key := _english_keys(english)) and spanish not in to_spanish[key]:
                to_spanish[key].append(spanish)
            if (key := _spanish_keys(spanish)) and english not in to_english[key]:
                to_english[key].append(english)
        return cls({k: tuple(v) for k, v in to_spanish.items()}, {k: tuple(v) for k, v in to_english.items()})

    def translations(self, text: str, language: str) -> list[tuple[str, ...]]:
        """For each word or phrase of `text` (in `language`, "en" or anything else read as
        Spanish) that the glossary holds, its translations; longest phrase first, so a word inside
        a phrase that matched is not looked up alone."""
        if language == "en":
            keys, table = _english_keys(text), self.to_spanish
        else:
            keys, table = _spanish_keys(text), self.to_english
        found: list[tuple[str, ...]] = []
        start = 0
        while start < len(keys):
            for size in range(min(MAX_PHRASE, len(keys) - start), 0, -1):
                words = table.get(keys[start : start + size])
                if words:
                    found.append(words)
                    start += size
                    break
            else:
                start += 1
        return found


@lru_cache(maxsize=1)
def glossary() -> Glossary:
    """The shipped glossary, read once (~20 ms)."""
    return Glossary.read()


@lru_cache(maxsize=1024)
def translated_terms(text: str, language: str) -> tuple[tuple[frozenset[str], ...], ...]:
    """For each word or phrase of `text` that the shipped glossary holds, each of its senses as
    BM25 terms (analysed). Cached: understanding a question and searching for it look up the
    same words."""
    return tuple(
        tuple(frozenset(analyze(sense)) for sense in senses) for senses in glossary().translations(text, language)
    )


# What a gloss keeps of the question as it is: names (a capitalised word that does not open the
# question) and figures, which the glossary does not translate and the articles spell alike.
_NAME_OR_FIGURE = re.compile(r"\b(?:[A-ZÁÉÍÓÚÑ][\w\-]+|\d[\d.,%]*)")


@lru_cache(maxsize=1024)
def gloss(text: str, language: str) -> str:
    """`text` word by word in the other language: the first sense the glossary gives for each
    word or phrase it holds, then the text's names and figures ("What wage does the union want
    for an unskilled worker?" → "salario sindicato buscado trabajador"). Not a translation, but
    multilingual-e5 embeds it closer to the articles in that language than the question itself
    (docs/eval/cross-lingual.md)."""
    words = [senses[0] for senses in glossary().translations(text, language)]
    opening = text.lstrip("¿¡ ").split()[:1]
    names = [w for w in _NAME_OR_FIGURE.findall(text) if w not in opening]
    return " ".join(words + names)
