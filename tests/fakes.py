"""Deterministic stand-ins for the models, and the builders the tests share.

- `HashingEncoder`: words (Spanish-analysed like BM25: stemmed, accents folded, stopwords out)
  hashed into a fixed number of signed buckets. Instant and deterministic; texts that share
  words are close. It borrows a registered model's fitted per-model constants (`fitted_as`:
  refusal model, sentence weight), whose cosines are on a comparable scale.
- `CannedLLM`: answers every question with one fixed reply citing its first source, or
  refuses, or fails: what `GenerativeAnswerer` does with each, without a server.

Tests that need the real model's judgement (retrieval quality, answers) use the real model
and are marked `slow` where they take more than a few seconds; the fakes serve the tests of
everything else: bookkeeping, the bot, the command line, faults.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from bot.client import NewsBot
from bot.limits import BotLimits
from bot.storage import Storage
from index import NewsIndex, Settings
from index.errors import LLMError
from index.lexical.analysis import analyze
from index.schema import Hit
from index.search.embeddings import Encoder

NO_COOLDOWN = BotLimits(cooldown_seconds=0)


def make_settings(store: Path, **overrides: object) -> Settings:
    return Settings(store=str(store)).with_overrides(**overrides)


def make_bot(idx: NewsIndex, db_path: Path, limits: BotLimits = NO_COOLDOWN, **options: Any) -> NewsBot:
    """The Discord bot over `idx`, its SQLite file at `db_path` and uploads beside it (for simcord)."""
    return NewsBot(idx, Storage(db_path), limits=limits, upload_dir=db_path.parent / "uploads", **options)


class HashingEncoder(Encoder):
    """Bag of analysed words → signed hash buckets, L2-normalised."""

    key = "hashing"
    dim = 512

    @property
    def fitted_as(self) -> str:
        return "usem3"

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in analyze(text):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms


class CannedLLM:
    """The `SourceAnswerer` contract with one canned behaviour: `reply` citing source 1, a
    refusal (`reply=""`), or `LLMError` (`fail=True`). Records the questions it was asked."""

    def __init__(self, reply: str = "Según la fuente, sí.", fail: bool = False) -> None:
        self.reply, self.fail = reply, fail
        self.asked: list[tuple[str, str, int]] = []

    def answer(self, question: str, language: str, hits: list[Hit]) -> tuple[str, list[int]]:
        self.asked.append((question, language, len(hits)))
        if self.fail:
            raise LLMError("the canned LLM failed, as told")
        if not self.reply or not hits:
            return "", []
        return f"{self.reply} [1]", [1]
