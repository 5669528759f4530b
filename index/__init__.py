"""newsbot's library: ingest news articles into Chroma, search them, answer with citations.

from index import NewsIndex
idx = NewsIndex("path/to/store")
idx.ingest(["articles/"])
idx.search("pregunta", k=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ArticleError, ConfigError, LLMError, NewsbotError, QuestionError, StoreError
from .ingest.articles import SUPPORTED_SUFFIXES
from .ingest.watch import Round, parse_duration, watch
from .schema import CITATION_MARKER, Answer, Article, ArticleInfo, Citation, Hit, IngestReport
from .settings import Settings

if TYPE_CHECKING:
    from .newsindex import NewsIndex

__all__ = [
    "CITATION_MARKER",
    "SUPPORTED_SUFFIXES",
    "Answer",
    "Article",
    "ArticleError",
    "ArticleInfo",
    "Citation",
    "ConfigError",
    "Hit",
    "IngestReport",
    "LLMError",
    "NewsIndex",
    "NewsbotError",
    "QuestionError",
    "Round",
    "Settings",
    "StoreError",
    "ask",
    "parse_duration",
    "watch",
]


def __getattr__(name: str) -> Any:
    """`NewsIndex` on first use: it loads Chroma, ONNX Runtime and LlamaIndex (~2 s on 2 cores),
    which `newsbot --help`, the bot's replies and `index.settings` users need not wait for."""
    if name == "NewsIndex":
        from .newsindex import NewsIndex

        return NewsIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ask(question: str, **options: object) -> Answer:
    """Answer `question` from the default store (NEWSBOT_STORE): `NewsIndex().ask(...)`."""
    return _default_index().ask(question, **options)  # type: ignore[arg-type]


def _default_index() -> NewsIndex:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = NewsIndex()
    return _DEFAULT


_DEFAULT: NewsIndex | None = None
