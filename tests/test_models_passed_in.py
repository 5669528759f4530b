"""Models are passed in: `NewsIndex(encoder=..., answerers=...)` with the deterministic fakes of
tests/fakes.py, and the registries from which settings, the CLI and the fitted data derive."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import NewsbotError, NewsIndex
from index.answer.answerers import GenerativeAnswerer, RankerAnswerer
from index.answer.llm import LLM_BUILDERS
from index.cli import build_parser
from index.models import load_models
from index.search.embeddings import EMBED_MODELS, ENCODERS
from index.search.retrieval import SENTENCE_WEIGHTS
from index.settings import LLM_PROVIDERS

from .conftest import SAMPLE_ARTICLES
from .fakes import CannedLLM, HashingEncoder, make_settings


def test_registries_are_the_one_source_of_model_names() -> None:
    assert tuple(ENCODERS) == EMBED_MODELS
    assert ("none", *LLM_BUILDERS) == LLM_PROVIDERS
    # Every registered embedding model has its fitted constants, and nothing else has any.
    assert set(load_models().refusal) == set(EMBED_MODELS) == set(SENTENCE_WEIGHTS)
    eval_parser = build_parser()
    assert eval_parser.parse_args(["eval", "x.json", "--embed-model", EMBED_MODELS[-1]]).embed_model == EMBED_MODELS[-1]
    with pytest.raises(SystemExit):
        eval_parser.parse_args(["eval", "x.json", "--embed-model", "hashing"])


def test_hashing_encoder_is_deterministic_and_normalised(fake_encoder: HashingEncoder) -> None:
    a = fake_encoder.encode(["Las presas están al 41 %", "El metro abre en marzo"])
    b = fake_encoder.encode(["Las presas están al 41 %", "El metro abre en marzo"])
    assert a.shape == (2, fake_encoder.dim) and (a == b).all()
    assert abs(float((a * a).sum(axis=1)[0]) - 1.0) < 1e-5
    close = fake_encoder.encode(["presas 41"], is_query=True)[0]
    assert float(a[0] @ close) > float(a[1] @ close)


def test_index_with_a_passed_in_encoder(fake_index: NewsIndex, tmp_path: Path) -> None:
    """The store records the encoder it was built with; it is searched with that one only."""
    assert fake_index.embedding.key == "hashing" and fake_index.stats()["embed_model"] == "hashing"
    hit = fake_index.search("tandeos colonias oriente", k=1)[0]
    assert "tandeo" in (hit.title + hit.text).lower()
    store = Path(fake_index.settings.store)
    with pytest.raises(NewsbotError, match="built with the hashing embedding model"):
        NewsIndex(store, settings=make_settings(store), encoder=_OtherEncoder())


class _OtherEncoder(HashingEncoder):
    key = "other-hashing"


def _index_with(tmp_path: Path, *answerers: object) -> NewsIndex:
    store = tmp_path / "store"
    index = NewsIndex(store, settings=make_settings(store), encoder=HashingEncoder(), answerers=answerers)  # type: ignore[arg-type]
    index.ingest([SAMPLE_ARTICLES])
    return index


def test_a_canned_llm_answers_with_a_checked_citation(tmp_path: Path, canned_llm: CannedLLM) -> None:
    settings = make_settings(tmp_path, llm="openai")
    index = _index_with(tmp_path, GenerativeAnswerer(settings, llm=canned_llm), RankerAnswerer())
    answer = index.ask("¿Cuándo empiezan los tandeos?")
    assert answer.answerer == "llm:openai" and answer.text == "Según la fuente, sí. [1]"
    assert [c.number for c in answer.citations] == [1] and answer.citations[0].title
    assert canned_llm.asked and canned_llm.asked[0][1] == "es"


def test_a_canned_refusal_and_a_failing_llm(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, llm="openai")
    refusing = _index_with(tmp_path, GenerativeAnswerer(settings, llm=CannedLLM(reply="")), RankerAnswerer())
    assert refusing.ask("¿Cuándo empiezan los tandeos?").refused
    failing = NewsIndex(
        refusing.settings.store,
        settings=refusing.settings,
        encoder=HashingEncoder(),
        answerers=[GenerativeAnswerer(settings, llm=CannedLLM(fail=True)), RankerAnswerer()],
    )
    answer = failing.ask("¿Cuándo empiezan los tandeos?")
    assert answer.answerer != "llm:openai"  # the extractive answerer took over


def test_remove_articles_by_source(tmp_path: Path) -> None:
    """`NewsIndex.remove` (public API): the article and its chunks go, search no longer finds it."""
    index = _index_with(tmp_path)
    before = {a.source for a in index.list_articles(limit=100)}
    gone = sorted(before)[0]
    assert index.remove([gone, "/no/such/article.txt"]) == 1
    after = {a.source for a in index.list_articles(limit=100)}
    assert after == before - {gone}
    assert all(h.source != gone for h in index.search(Path(gone).stem.replace("-", " "), k=10))
