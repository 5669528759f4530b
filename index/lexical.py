"""Spanish BM25 over the chunks in the store (our analyzer: Snowball Spanish stemmer, accents
folded, stopwords out), kept up to date change by change rather than rebuilt.

Chroma holds the text; this side index is derived from it and can always be rebuilt. It is made
of immutable *segments* (chunks analysed once, postings per token) and a set of *tombstones*
(rows of a segment whose chunk was deleted or replaced). Adding, replacing or removing an
article tombstones its old rows and appends one small segment with its new chunks: the cost is
that article's, not the store's. BM25 statistics (number of chunks, average length, document
frequency of each query token) are computed at query time over the live rows of every segment,
so scores are exactly those of one index built over the live chunks (bm25s's "lucene" BM25,
k1 = 1.5, b = 0.75, which this replaced; tests/test_lexical.py compares them). Segments are
merged when there are many small ones, or when deltas and tombstones outgrow a tenth of the
base, so queries stay as fast as on one index. docs/lexical.md has the measurements.

On disk (`SideIndex`): one file per segment, written once under a unique name, and a small
`manifest.json` (the change-log position `seq`, the segments, their tombstones) swapped in with
`os.replace`, so a reader, or a process killed mid-save, only ever sees a whole index. The
analyzer is ours, not a pickled object, so a reload always stems Spanish the same way.

The interface retrieval and question scoring use is `LexicalIndex` (scores over the live chunks,
idf, dates): another backend (sparse vectors in a hosted store) would implement that.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import threading
import time
import unicodedata
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_SPANISH

log = logging.getLogger(__name__)

ANALYZER_VERSION = 2  # bump when `analyze` changes, so old side indexes are rebuilt
FORMAT_VERSION = 3  # 3: segments + tombstones + change-log position (2 was one bm25s index)
K1, B = 1.5, 0.75  # bm25s's defaults, kept so ranking is what it was
MAX_DELTAS = 8  # more small segments than this: they are merged into one
MERGE_SHARE = 0.10  # deltas + tombstones above this share of the base: everything is merged
MERGE_MIN_ROWS = 256  # ... but never for fewer rows than this (a tiny store merges rarely)
GC_AGE_SECONDS = 600.0  # unreferenced segment files older than this are deleted
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


def bm25_idf(df: int | np.ndarray, total: int) -> float | np.ndarray:
    """Lucene's idf, as bm25s computes it (never negative)."""
    return np.log(1.0 + (total - df + 0.5) / (df + 0.5))


# -- the interface retrieval uses ------------------------------------------------------------


class LexicalIndex(Protocol):
    """What retrieval and question scoring need from a lexical index, whatever its backend.

    Rows are the live chunks, in the order of `chunk_ids`; `scores` and `date_ints` follow it.
    """

    @property
    def version(self) -> str: ...
    @property
    def chunk_ids(self) -> list[str]: ...
    @property
    def date_ints(self) -> np.ndarray: ...
    @property
    def position(self) -> dict[str, int]: ...
    def scores(self, query: str) -> np.ndarray: ...
    def newest_date(self) -> dt.date | None: ...
    def unseen_idf(self) -> float: ...
    def idf(self, tokens: list[str]) -> dict[str, float]: ...


# -- segments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkText:
    """One chunk as the lexical index sees it."""

    chunk_id: str
    article_id: str
    text: str  # headline and chunk text
    date_int: int


@dataclass(frozen=True, eq=False)
class Segment:
    """Chunks analysed once: lengths, dates, and postings (rows, term frequencies) per token.

    Immutable, so index snapshots share them and a saved segment file never changes.
    """

    name: str
    chunk_ids: list[str]
    article_ids: list[str]
    date_ints: np.ndarray  # int32, per row
    lengths: np.ndarray  # int32, analysed tokens per row (BM25's document length)
    tokens: list[str]  # column → token
    indptr: np.ndarray  # int64, column c's postings are rows[indptr[c]:indptr[c + 1]]
    rows: np.ndarray  # int32
    tfs: np.ndarray  # int32

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    @cached_property
    def vocab(self) -> dict[str, int]:
        return {token: column for column, token in enumerate(self.tokens)}

    @cached_property
    def rows_by_chunk(self) -> dict[str, int]:
        return {cid: row for row, cid in enumerate(self.chunk_ids)}

    @cached_property
    def rows_by_article(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for row, article_id in enumerate(self.article_ids):
            found.setdefault(article_id, []).append(row)
        return found

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        column = self.vocab.get(token)
        if column is None:
            return None
        start, end = int(self.indptr[column]), int(self.indptr[column + 1])
        return self.rows[start:end], self.tfs[start:end]

    @classmethod
    def build(cls, chunks: Sequence[ChunkText]) -> Segment:
        """Analyse `chunks` (the expensive part: ~1 ms a chunk) into a new segment."""
        vocab: dict[str, int] = {}
        columns: list[int] = []
        rows: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(len(chunks), dtype=np.int32)
        for row, chunk in enumerate(chunks):
            tokens = analyze(chunk.text)
            lengths[row] = len(tokens)
            for token, tf in Counter(tokens).items():
                columns.append(vocab.setdefault(token, len(vocab)))
                rows.append(row)
                tfs.append(tf)
        return cls._from_postings(
            [c.chunk_id for c in chunks],
            [c.article_id for c in chunks],
            np.asarray([c.date_int for c in chunks], dtype=np.int32),
            lengths,
            list(vocab),
            np.asarray(columns, dtype=np.int64),
            np.asarray(rows, dtype=np.int32),
            np.asarray(tfs, dtype=np.int32),
        )

    @classmethod
    def _from_postings(
        cls,
        chunk_ids: list[str],
        article_ids: list[str],
        date_ints: np.ndarray,
        lengths: np.ndarray,
        tokens: list[str],
        columns: np.ndarray,
        rows: np.ndarray,
        tfs: np.ndarray,
    ) -> Segment:
        """From unordered (column, row, tf) triples; rows stay in ascending order per column."""
        order = np.lexsort((rows, columns))
        counts = np.bincount(columns, minlength=len(tokens))
        indptr = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(
            name=uuid.uuid4().hex,
            chunk_ids=chunk_ids,
            article_ids=article_ids,
            date_ints=date_ints.astype(np.int32, copy=False),
            lengths=lengths.astype(np.int32, copy=False),
            tokens=tokens,
            indptr=indptr,
            rows=rows[order].astype(np.int32, copy=False),
            tfs=tfs[order].astype(np.int32, copy=False),
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
        """One segment holding the live rows of `parts` ((segment, live mask)), without
        analysing any text again: postings are renumbered and concatenated."""
        vocab: dict[str, int] = {}
        chunk_ids: list[str] = []
        article_ids: list[str] = []
        dates, lengths, columns, rows, tfs = [], [], [], [], []
        offset = 0
        for segment, live in parts:
            kept = np.flatnonzero(live)
            new_row = np.full(segment.size, -1, dtype=np.int64)
            new_row[kept] = offset + np.arange(len(kept))
            chunk_ids += [segment.chunk_ids[i] for i in kept]
            article_ids += [segment.article_ids[i] for i in kept]
            dates.append(segment.date_ints[kept])
            lengths.append(segment.lengths[kept])
            column_map = np.asarray([vocab.setdefault(t, len(vocab)) for t in segment.tokens], dtype=np.int64)
            posting_column = np.repeat(column_map, np.diff(segment.indptr))
            keep = live[segment.rows]
            columns.append(posting_column[keep])
            rows.append(new_row[segment.rows[keep]])
            tfs.append(segment.tfs[keep])
            offset += len(kept)
        merged = cls._from_postings(
            chunk_ids,
            article_ids,
            np.concatenate(dates) if dates else np.zeros(0, np.int32),
            np.concatenate(lengths) if lengths else np.zeros(0, np.int32),
            list(vocab),
            np.concatenate(columns) if columns else np.zeros(0, np.int64),
            np.concatenate(rows) if rows else np.zeros(0, np.int64),
            np.concatenate(tfs) if tfs else np.zeros(0, np.int32),
        )
        return merged._without_empty_columns()

    def _without_empty_columns(self) -> Segment:
        """Tokens whose every chunk was deleted are dropped (a rebuild would not have them)."""
        counts = np.diff(self.indptr)
        if counts.all():
            return self
        keep = np.flatnonzero(counts)
        indptr = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(counts[keep], out=indptr[1:])
        return Segment(self.name, self.chunk_ids, self.article_ids, self.date_ints, self.lengths,
                       [self.tokens[i] for i in keep], indptr, self.rows, self.tfs)  # fmt: skip

    # -- files ---------------------------------------------------------------------------

    def write(self, directory: Path) -> dict[str, int]:
        """Two files, each written under a temporary name then renamed: `<name>.json` (ids,
        tokens) and `<name>.npy` (one int32 array: sizes, then dates, lengths, indptr, rows,
        tfs). Returns their checksums for the manifest."""
        header = np.asarray([self.size, len(self.tokens), len(self.rows)], dtype=np.int32)
        array = np.concatenate([header, self.date_ints, self.lengths, self.indptr.astype(np.int32), self.rows,
                                self.tfs]).astype(np.int32, copy=False)  # fmt: skip
        text = json.dumps({"chunk_ids": self.chunk_ids, "article_ids": self.article_ids, "tokens": self.tokens})
        payloads = {".json": text.encode("utf-8"), ".npy": _npy_bytes(array)}
        for suffix, data in payloads.items():
            _write_atomically(directory / f"{self.name}{suffix}", data)
        return {suffix[1:]: zlib.crc32(data) for suffix, data in payloads.items()}

    @classmethod
    def read(cls, directory: Path, name: str, checksums: dict[str, int]) -> Segment:
        """A segment as written by `write`; raises on any damage (checksums, sizes, bounds)."""
        raw = (directory / f"{name}.json").read_bytes()
        packed = (directory / f"{name}.npy").read_bytes()
        if zlib.crc32(raw) != checksums.get("json") or zlib.crc32(packed) != checksums.get("npy"):
            raise ValueError(f"segment {name} does not match its checksum")
        meta = json.loads(raw.decode("utf-8"))
        array = np.load(io.BytesIO(packed), allow_pickle=False)
        size, n_tokens, n_postings = (int(v) for v in array[:3])
        cuts = np.cumsum([3, size, size, n_tokens + 1, n_postings, n_postings])
        if array.dtype != np.int32 or array.ndim != 1 or len(array) != cuts[-1]:
            raise ValueError(f"segment {name} has the wrong size")
        dates, lengths, indptr, rows, tfs = np.split(array, cuts[:-1])[1:]
        segment = cls(name, list(meta["chunk_ids"]), list(meta["article_ids"]), dates, lengths,
                      list(meta["tokens"]), indptr.astype(np.int64), rows, tfs)  # fmt: skip
        if (
            len(segment.chunk_ids) != size
            or len(segment.article_ids) != size
            or len(segment.tokens) != n_tokens
            or segment.indptr[0] != 0
            or segment.indptr[-1] != n_postings
            or (n_postings and (rows.min() < 0 or rows.max() >= size))
        ):
            raise ValueError(f"segment {name} is inconsistent")
        return segment


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# -- the index: segments + tombstones, one immutable snapshot per change ---------------------


@dataclass(frozen=True, eq=False)
class SegmentIndex:
    """A snapshot of the BM25 side index at change-log position `seq`. Never modified: a change
    makes a new snapshot (sharing the segments), so a search holding this one stays consistent."""

    seq: int
    segments: tuple[Segment, ...] = ()
    live: tuple[np.ndarray, ...] = ()  # per segment, bool per row
    log_id: str = ""  # which store's change log `seq` counts in (ChunkStore.log_id)

    # -- the LexicalIndex surface ---------------------------------------------------------

    @property
    def version(self) -> str:
        return str(self.seq)

    @cached_property
    def _live_rows(self) -> np.ndarray:
        """Global row (segments concatenated, dead rows included) of each live chunk, in order."""
        offsets = np.cumsum([0] + [s.size for s in self.segments])
        parts = [offsets[i] + np.flatnonzero(live) for i, live in enumerate(self.live)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    @cached_property
    def chunk_ids(self) -> list[str]:
        ids: list[str] = []
        for segment, live in zip(self.segments, self.live, strict=True):
            ids.extend(segment.chunk_ids if live.all() else (segment.chunk_ids[i] for i in np.flatnonzero(live)))
        return ids

    @cached_property
    def date_ints(self) -> np.ndarray:
        parts = [s.date_ints[live] for s, live in zip(self.segments, self.live, strict=True)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    @cached_property
    def position(self) -> dict[str, int]:
        """Chunk id → row, built once per snapshot rather than once per search."""
        return {cid: i for i, cid in enumerate(self.chunk_ids)}

    @cached_property
    def total(self) -> int:
        return int(sum(int(live.sum()) for live in self.live))

    @cached_property
    def _average_length(self) -> float:
        length = sum(int(s.lengths[live].sum()) for s, live in zip(self.segments, self.live, strict=True))
        return length / self.total if self.total else 0.0

    def _live_postings(self, token: str) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(segment offset, rows, term frequencies, lengths) of the live chunks holding `token`."""
        found = []
        offset = 0
        for segment, live in zip(self.segments, self.live, strict=True):
            postings = segment.postings(token)
            if postings is not None:
                rows, tfs = postings
                keep = live[rows]
                if not keep.all():
                    rows, tfs = rows[keep], tfs[keep]
                if len(rows):
                    found.append((offset, rows, tfs, segment.lengths[rows]))
            offset += segment.size
        return found

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every live chunk for `query` (zeros when nothing matches).

        A token repeated in the query counts as often as it appears, as bm25s counted it.
        """
        tokens = analyze(query)
        if not tokens or not self.total:
            return np.zeros(self.total, dtype=np.float32)
        every_row = np.zeros(sum(s.size for s in self.segments), dtype=np.float64)
        for token, times in Counter(tokens).items():
            postings = self._live_postings(token)
            df = sum(len(rows) for _, rows, _, _ in postings)
            if not df:
                continue
            idf = float(bm25_idf(df, self.total))
            for offset, rows, tfs, lengths in postings:
                tf = tfs.astype(np.float64)
                every_row[offset + rows] += times * idf * tf / (K1 * (1 - B + B * lengths / self._average_length) + tf)
        return every_row[self._live_rows].astype(np.float32)

    def newest_date(self) -> dt.date | None:
        """The date of the newest chunk's article, or None for an empty index."""
        if not len(self.date_ints) or int(self.date_ints.max()) <= 0:
            return None
        return dt.datetime.strptime(str(int(self.date_ints.max())), "%Y%m%d").date()

    def unseen_idf(self) -> float:
        """The idf a token found in no chunk would have (the highest there is)."""
        return float(bm25_idf(0, self.total))

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency of analysed tokens over the chunks (rare words weigh more).

        Tokens that no chunk contains are left out of the result.
        """
        weights = {}
        for token in tokens:
            df = sum(len(rows) for _, rows, _, _ in self._live_postings(token))
            if df > 0:
                weights[token] = float(bm25_idf(df, self.total))
        return weights

    # -- changes -------------------------------------------------------------------------

    @classmethod
    def build(cls, seq: int, chunks: Sequence[ChunkText], log_id: str = "") -> SegmentIndex:
        """The whole index at once (a first build, or a rebuild of a damaged one)."""
        if not chunks:
            return cls(seq, log_id=log_id)
        segment = Segment.build(chunks)
        return cls(seq, (segment,), (np.ones(segment.size, dtype=bool),), log_id)

    def apply(self, seq: int, article_ids: Iterable[str], chunks: Sequence[ChunkText]) -> SegmentIndex:
        """`article_ids` now have exactly `chunks` in the store (none: deleted). Costs those
        articles' chunks, plus a merge now and then (see `_compacted`)."""
        gone = set(article_ids) | {c.article_id for c in chunks}
        new_ids = {c.chunk_id for c in chunks}
        live = list(self.live)
        for i, segment in enumerate(self.segments):
            dead = [row for a in gone for row in segment.rows_by_article.get(a, ())]
            dead += [segment.rows_by_chunk[c] for c in new_ids if c in segment.rows_by_chunk]
            dead = [row for row in dead if live[i][row]]
            if dead:
                live[i] = live[i].copy()
                live[i][dead] = False
        segments = list(self.segments)
        if chunks:
            delta = Segment.build(chunks)
            segments.append(delta)
            live.append(np.ones(delta.size, dtype=bool))
        return SegmentIndex(seq, tuple(segments), tuple(live), self.log_id)._compacted()

    def _compacted(self) -> SegmentIndex:
        """Merge segments when queries would pay for too many of them: all deltas into one when
        there are more than MAX_DELTAS (cost: the deltas), everything into a new base when deltas
        and tombstones pass MERGE_SHARE of the base (cost: the store, but only once per that
        many changed chunks, so amortised it stays per article)."""
        if not self.segments:
            return self
        base_rows = self.segments[0].size
        extra = sum(s.size for s in self.segments[1:]) + sum(int((~live).sum()) for live in self.live)
        pairs = list(zip(self.segments, self.live, strict=True))
        parts: list[tuple[Segment, np.ndarray]]
        if extra > max(MERGE_MIN_ROWS, MERGE_SHARE * base_rows):
            parts = _whole([Segment.merge(pairs)])
        elif len(pairs) - 1 > MAX_DELTAS:
            parts = [pairs[0], *_whole([Segment.merge(pairs[1:])])]
        else:
            parts = [(s, live) for s, live in pairs if live.any()]  # a segment with nothing left goes
            if len(parts) == len(pairs):
                return self
        return SegmentIndex(self.seq, tuple(s for s, _ in parts), tuple(v for _, v in parts), self.log_id)


def _whole(segments: list[Segment]) -> list[tuple[Segment, np.ndarray]]:
    """Fresh segments, every row live (empty ones left out)."""
    return [(s, np.ones(s.size, dtype=bool)) for s in segments if s.size]


# -- on disk ---------------------------------------------------------------------------------


class SideIndex:
    """The saved form of a `SegmentIndex` in one folder: segment files and `manifest.json`."""

    MANIFEST = "manifest.json"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._written: dict[str, dict[str, int]] = {}  # segment name → checksums, already on disk

    def save(self, index: SegmentIndex) -> None:
        """Write the segments not yet on disk, then swap in a new manifest (atomic: a reader or a
        restart sees the old index or the new one, never a mix); then delete old files."""
        self.directory.mkdir(parents=True, exist_ok=True)
        checksums: dict[str, dict[str, int]] = {}
        for segment in index.segments:
            written = self._written.get(segment.name)
            on_disk = all((self.directory / f"{segment.name}.{kind}").exists() for kind in ("json", "npy"))
            checksums[segment.name] = written if written and on_disk else segment.write(self.directory)
        manifest = {
            "format": FORMAT_VERSION,
            "analyzer": ANALYZER_VERSION,
            "seq": index.seq,
            "log_id": index.log_id,
            "segments": [
                {"name": s.name, "rows": s.size, "dead": np.flatnonzero(~live).tolist(), "crc": checksums[s.name]}
                for s, live in zip(index.segments, index.live, strict=True)
            ],
        }
        _write_atomically(self.directory / self.MANIFEST, json.dumps(manifest).encode("utf-8"))
        self._written = checksums
        self._collect_garbage({s.name for s in index.segments})

    def _collect_garbage(self, keep: set[str]) -> None:
        """Files no manifest names any more. Only old ones: another process sharing this folder
        may have just written a manifest naming them, or be reading them."""
        cutoff = time.time() - GC_AGE_SECONDS
        for path in self.directory.iterdir():
            if path.name == self.MANIFEST or path.name.split(".", 1)[0] in keep:
                continue
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass

    def load(self) -> SegmentIndex | None:
        """The saved index, or None when it is missing, from another analyzer, or damaged."""
        for attempt in range(2):
            try:
                return self._load()
            except FileNotFoundError:
                # No manifest: nothing saved yet. A segment gone: another process sharing the
                # folder replaced the manifest and collected it; the new manifest is read again.
                if attempt == 0 and (self.directory / self.MANIFEST).exists():
                    continue
                return None
            except Exception as exc:  # a damaged side file is rebuilt, never fatal
                log.warning("BM25 side index at %s is unreadable (%s); it will be rebuilt", self.directory, exc)
                return None
        return None

    def _load(self) -> SegmentIndex | None:
        manifest = json.loads((self.directory / self.MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION or manifest.get("analyzer") != ANALYZER_VERSION:
            return None
        segments, live = [], []
        for entry in manifest["segments"]:
            segment = Segment.read(self.directory, str(entry["name"]), dict(entry["crc"]))
            if segment.size != int(entry["rows"]):
                raise ValueError("segment sizes disagree with the manifest")
            mask = np.ones(segment.size, dtype=bool)
            mask[np.asarray(entry["dead"], dtype=np.int64)] = False
            segments.append(segment)
            live.append(mask)
        self._written = {str(e["name"]): dict(e["crc"]) for e in manifest["segments"]}
        return SegmentIndex(int(manifest["seq"]), tuple(segments), tuple(live), str(manifest["log_id"]))
