"""Sentences of a chunk, and their embeddings stored with the chunk.

Questions are usually about one sentence of an article, and the embedding model matches a
question with the sentence that answers it better than with a whole 256-token chunk. So each
chunk's sentences are embedded at ingest and kept in the chunk's own Chroma record (one record,
so the chunk and its sentence vectors are written, replaced and deleted together). Search adds
the best sentence's similarity to a chunk's score (retrieval.py), and the answerer uses the
same vectors to rank sentences, in any language, without embedding anything at question time.

Vectors are stored as int8 (each row scaled by its largest component) in a base64 string: a
metadata value must be a scalar, and 384 bytes per sentence keep the store small. Only the
direction matters for a cosine, and rounding to int8 moves a cosine by ~0.001.
"""

from __future__ import annotations

import base64
import re

import numpy as np

from ..ingest.articles import DATELINE_OUTLET

MAX_SENTENCES = 32  # per chunk; a 256-token chunk rarely has more than 15

# A period after these does not end a sentence: titles ("Mtra.", "Gen."), "U.S.", English
# months ("Oct. 18"), a lone letter (an initial, "c." for circa) and a list's number opening a
# paragraph ("11. Comité…"). "EE. UU." (the spelling the RAE recommends) is one abbreviation.
# A lone digit elsewhere does end one: "…en la noche del jueves 7. El río…".
_ABBREVIATIONS = re.compile(
    r"(\b(Sr|Sra|Dr|Dra|Lic|Ing|Mtro|Mtra|Arq|Gral|Gob|Dip|Sen|Rep|Gen|Gov|Col|Cnel|Tte|Sgto|Pres|"
    r"St|Mr|Mrs|Ms|Jr|etc|núm|No|art|aprox|EE|EE\.UU|D\.C|a\.C|d\.C|U\.S|U\.K|U\.N|ca|vs|"
    r"Av|Avda|Sta|Sto|Prof|Dña|Pdte|Excmo|Excma|Cía|pág|vol|tel|Mons|Hnos|"
    r"Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec)|"
    r"^\d{1,3}|(^|\s|\()[^\W\d_])\.$"
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”»')]*\s+(?=[¿¡\"“«(\[A-ZÁÉÍÓÚÑ0-9])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage; a dateline ("Valle Alto, 3 de febrero (Agencia).-") is dropped."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=[A-ZÁÉÍÓÚÑ¿¡\"“«-])", text):
        paragraph = DATELINE_OUTLET.sub("", paragraph.strip(), count=1)
        pending = ""
        for piece in _SENTENCE_END.split(paragraph.strip()):
            pending = f"{pending} {piece}".strip() if pending else piece.strip()
            if not _ABBREVIATIONS.search(pending):
                sentences.append(pending)
                pending = ""
        if pending:
            sentences.append(pending)
    return [" ".join(s.split()) for s in sentences if len(s.strip()) > 1]


# A clause ends at a comma, semicolon or colon, or before an opening parenthesis or dash.
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+(?=[(—–])")


def clause_bounds(sentence: str) -> list[int]:
    """Where each clause of `sentence` starts, and its end: clause n is bounds[n]:bounds[n + 1]."""
    return [0, *(m.end() for m in _CLAUSE_BREAK.finditer(sentence)), len(sentence)]


def clause_text(sentence: str, bounds: list[int], first: int, last: int) -> str:
    """Clauses `first` to `last` (both included) of `sentence`."""
    return sentence[bounds[first] : bounds[last + 1]].strip()


def widen(sentence: str, bounds: list[int], first: int, last: int, limit: int) -> tuple[int, int]:
    """Clauses `first`..`last` grown by the next clause, else the previous one, while they fit in
    `limit` characters: the answer sits next to the question's words rather than among them."""
    while True:
        if last + 2 < len(bounds) and len(clause_text(sentence, bounds, first, last + 1)) <= limit:
            last += 1
        elif first > 0 and len(clause_text(sentence, bounds, first - 1, last)) <= limit:
            first -= 1
        else:
            return first, last


def embedded_sentences(title: str, chunk: str) -> list[str]:
    """The texts embedded for a chunk's sentences, in `split_sentences` order. The headline
    goes with each: a news sentence often leaves out what the headline says."""
    return [f"{title}\n{sentence}" if title else sentence for sentence in split_sentences(chunk)[:MAX_SENTENCES]]


def lines_up(stored: int, sentences: list[str]) -> bool:
    """Do `stored` sentence vectors belong one by one to `sentences` (a chunk split now)? Not
    when the chunk was embedded by a splitter that cut it differently."""
    return stored == min(len(sentences), MAX_SENTENCES)


def quantize(vectors: np.ndarray) -> np.ndarray:
    """(n, dim) float vectors → int8, each row scaled by its largest component (only the
    direction matters for a cosine)."""
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    return np.rint(vectors / scale * 127).astype(np.int8)


def dequantize(raw: bytes, dim: int) -> np.ndarray | None:
    """The unit vectors of `quantize`'s bytes, or None when there are none (or they are damaged)."""
    if dim <= 0 or not raw or len(raw) % dim:
        return None
    vectors = np.frombuffer(raw, dtype=np.int8).reshape(-1, dim).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms  # type: ignore[no-any-return]


def pack(vectors: np.ndarray) -> str:
    """(n, dim) float vectors → a compact string for a Chroma metadata value."""
    if len(vectors) == 0:
        return ""
    return base64.b64encode(quantize(vectors).tobytes()).decode("ascii")


def unpack(packed: str, dim: int) -> np.ndarray | None:
    """The unit vectors of `pack`'s string, or None when there are none (or they are damaged)."""
    if not packed:
        return None
    try:
        return dequantize(base64.b64decode(packed, validate=True), dim)
    except ValueError:
        return None
