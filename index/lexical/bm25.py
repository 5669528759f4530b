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
idf, dates, and the cosine of chosen rows from the int8 vectors the segments keep, for date
ranges): another backend (sparse vectors in a hosted store) would implement that.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from .analysis import ANALYZER_VERSION, analyze
from .segments import ChunkText, Segment, write_atomically

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 4: segments carry int8 chunk vectors; 3: segments + tombstones + log position
K1, B = 1.5, 0.75  # bm25s's defaults, kept so ranking is what it was
MAX_DELTAS = 8  # more small segments than this: they are merged into one
MERGE_SHARE = 0.10  # deltas + tombstones above this share of the base: everything is merged
MERGE_MIN_ROWS = 256  # ... but never for fewer rows than this (a tiny store merges rarely)
# Unreferenced segment files older than this are deleted at each save. Another process sharing
# the folder writes its segment files a moment before the manifest naming them, and a reader
# whose segment vanished re-reads the manifest (SideIndex.load): seconds, not minutes. Ten
# minutes (the first value) left ~700 MB of superseded bases beside a freshly built 100k store.
GC_AGE_SECONDS = 60.0


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
    def scores(self, query: str, added: Mapping[str, float] | None = None) -> np.ndarray: ...
    def newest_date(self) -> dt.date | None: ...
    def unseen_idf(self) -> float: ...
    def idf(self, tokens: list[str]) -> dict[str, float]: ...
    def dense_similarities(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray | None: ...


# -- segments --------------------------------------------------------------------------------


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

    def scores(self, query: str, added: Mapping[str, float] | None = None) -> np.ndarray:
        """BM25 score of every live chunk for `query` (zeros when nothing matches), plus `added`
        analysed tokens at their weights (a question's words in the other language).

        A token repeated in the query counts as often as it appears, as bm25s counted it.
        """
        weights: dict[str, float] = dict(Counter(analyze(query)))
        for token, weight in (added or {}).items():
            weights[token] = weights.get(token, 0.0) + weight
        if not weights or not self.total:
            return np.zeros(self.total, dtype=np.float32)
        every_row = np.zeros(sum(s.size for s in self.segments), dtype=np.float64)
        for token, times in weights.items():
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

    def dense_similarities(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        """Cosine of the live `rows` (positions in `chunk_ids`) to the unit `query_vector`, from
        the segments' int8 vectors; None when a segment holding some of them has no vectors."""
        rows = np.asarray(rows, dtype=np.int64)
        every_row = self._live_rows[rows]
        offsets = np.cumsum([0] + [s.size for s in self.segments])
        owner = np.searchsorted(offsets, every_row, side="right") - 1
        out = np.zeros(len(rows), dtype=np.float32)
        for i in np.unique(owner):
            segment = self.segments[i]
            if segment.vectors.shape[1] != len(query_vector):
                return None
            mine = np.flatnonzero(owner == i)
            out[mine] = segment.similarities(query_vector, every_row[mine] - offsets[i])
        return out

    # -- changes -------------------------------------------------------------------------

    @classmethod
    def build(cls, seq: int, chunks: Iterable[ChunkText], log_id: str = "") -> SegmentIndex:
        """The whole index at once (a first build, or a rebuild of a damaged one), reading
        `chunks` once, one at a time."""
        segment = Segment.build(chunks)
        if not segment.size:
            return cls(seq, log_id=log_id)
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
            on_disk = all((self.directory / f"{segment.name}.{kind}").exists() for kind in ("json", "npy", "vec"))
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
        write_atomically(self.directory / self.MANIFEST, [json.dumps(manifest).encode("utf-8")])
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
