"""newsbot's library: ingest news articles into Chroma, search them, answer with citations.

    from index import NewsIndex
    idx = NewsIndex("path/to/store")
    idx.ingest(["articles/"])
    idx.search("pregunta", k=5)
"""

from .errors import ArticleError, ConfigError, LLMError, NewsbotError, QuestionError, StoreError
from .newsindex import ArticleInfo, NewsIndex
from .schema import Article, Hit, IngestReport
from .settings import Settings

__all__ = [
    "Article",
    "ArticleError",
    "ArticleInfo",
    "ConfigError",
    "Hit",
    "IngestReport",
    "LLMError",
    "NewsIndex",
    "NewsbotError",
    "QuestionError",
    "Settings",
    "StoreError",
]
