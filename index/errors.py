"""Typed errors. Front-ends (CLI, bot) map these to one-line, friendly messages."""

from __future__ import annotations


class NewsbotError(Exception):
    """Base class: anything the user can be told about in one line."""


class ConfigError(NewsbotError):
    """A setting is missing or invalid."""


class StoreError(NewsbotError):
    """The Chroma store cannot be opened, read or written."""


class ArticleError(NewsbotError):
    """An input file or record cannot be read as an article (reported, then skipped)."""


class QuestionError(NewsbotError):
    """The question itself is unusable (empty, too long, no words)."""


class LLMError(NewsbotError):
    """The configured LLM failed: down, timed out or returned garbage."""
