"""Spanish BM25 over the chunks in the store (bm25s + the Snowball Spanish stemmer).

Chroma holds the text; this side index is derived from it and can always be rebuilt. It is
saved next to the store with the store `version` it was built from, and rebuilt whenever
that version moved on (another ingest, here or in another process on the same server) or
the saved files are unreadable. The analyzer is ours, not a pickled object, so a reload
always stems Spanish the same way the build did.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_SPANISH

log = logging.getLogger(__name__)
# bm25s forces its logger to DEBUG on import, which floods any configured handler.
logging.getLogger("bm25s").setLevel(logging.WARNING)

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


def analyze(text: str) -> list[str]:
    """Lowercase words minus stopwords, Spanish-stemmed, accents folded (reúne ~ reune)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # PyStemmer objects are not thread-safe: one per thread
        stemmer = _local.stemmer = Stemmer.Stemmer("spanish")
    words = [
        w for w in _WORD.findall(text.lower()) if _strip_accents(w) not in _STOPWORDS and (len(w) > 1 or w.isdigit())
    ]
    return [_strip_accents(stem) for stem in stemmer.stemWords(words)]


@dataclass
class LexicalIndex:
    version: str
    chunk_ids: list[str]
    date_ints: np.ndarray  # per chunk, for date filters
    model: bm25s.BM25 | None  # None when there are no chunks

    @cached_property
    def position(self) -> dict[str, int]:
        """Chunk id → row, built once per index rather than once per search."""
        return {cid: i for i, cid in enumerate(self.chunk_ids)}

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros when nothing matches)."""
        tokens = analyze(query)
        if self.model is None or not tokens:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)

    def newest_date(self) -> dt.date | None:
        """The date of the newest chunk's article, or None for an empty index."""
        if not len(self.date_ints) or int(self.date_ints.max()) <= 0:
            return None
        return dt.datetime.strptime(str(int(self.date_ints.max())), "%Y%m%d").date()

    def unseen_idf(self) -> float:
        """The idf a token found in no chunk would have (the highest there is)."""
        total = len(self.chunk_ids)
        return float(np.log(1.0 + (total + 0.5) / 0.5))

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency of analysed tokens over the chunks (rare words weigh more).

        Tokens that no chunk contains are left out of the result.
        """
        total = len(self.chunk_ids)
        weights = {}
        for token in tokens:
            if self.model is None or token not in self.model.vocab_dict:
                continue
            column = self.model.vocab_dict[token]
            indptr = self.model.scores["indptr"]
            df = int(indptr[column + 1] - indptr[column])
            if df > 0:
                weights[token] = float(np.log(1.0 + (total - df + 0.5) / (df + 0.5)))
        return weights

    @classmethod
    def build(cls, version: str, chunk_ids: list[str], texts: list[str], date_ints: list[int]) -> LexicalIndex:
        model = None
        if chunk_ids:
            model = bm25s.BM25()
            model.index([analyze(t) for t in texts], show_progress=False)
        return cls(version, list(chunk_ids), np.asarray(date_ints, dtype=np.int64), model)

    def save(self, directory: Path) -> None:
        """Write to a temporary folder, then swap it in, so readers never see half a save."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".bm25-", dir=directory.parent))
        try:
            if self.model is not None:
                self.model.save(str(tmp), show_progress=False)
            np.save(tmp / "dates.npy", self.date_ints)
            meta = {"version": self.version, "analyzer": ANALYZER_VERSION, "chunk_ids": self.chunk_ids}
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            old = directory.with_name(directory.name + ".old")
            if directory.exists():
                os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        """The saved index, or None when it is missing, from another analyzer, or damaged."""
        try:
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
            if meta.get("analyzer") != ANALYZER_VERSION:
                return None
            chunk_ids = list(meta["chunk_ids"])
            dates = np.load(directory / "dates.npy")
            model = bm25s.BM25.load(str(directory), show_progress=False) if chunk_ids else None
            if len(dates) != len(chunk_ids) or (model is not None and model.scores["num_docs"] != len(chunk_ids)):
                raise ValueError("sizes disagree")
            return cls(str(meta["version"]), chunk_ids, dates, model)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged side file is rebuilt, never fatal
            log.warning("BM25 side index at %s is unreadable (%s); it will be rebuilt", directory, exc)
            return None
