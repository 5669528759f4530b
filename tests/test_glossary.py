"""The English <-> Spanish news glossary (index/lexical/glossary.py) and what it does for search: a
question finds articles in the other language by their words, not only by shared names and figures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import NewsIndex
from index.answer.question import Query, understand
from index.answer.ranking import SPAN_FEATURES, span_table
from index.lexical.glossary import GLOSSARY_PATH, Glossary, gloss
from index.search.retrieval import TRANSLATION_WEIGHT

from .scripts import load_script

check_glossary = load_script("check_glossary")


def test_the_shipped_glossary_passes_its_checker() -> None:
    assert check_glossary.problems(GLOSSARY_PATH, merged=True) == []
    assert len(GLOSSARY_PATH.read_text(encoding="utf-8").splitlines()) >= 5000


def test_a_gloss_is_the_questions_words_in_the_other_language_then_its_names_and_figures() -> None:
    english = gloss("How many water trucks will the municipality rent in Valle Alto in 2026?", "en").split()
    assert {"agua", "camión", "municipio"} <= set(english)
    assert english[-3:] == ["Valle", "Alto", "2026"]  # kept as written; the opening "How" is not a name
    assert "How" not in english
    assert "municipality" in gloss("¿Cuántas pipas rentará el municipio?", "es").split()
    assert gloss("Who is Zxqv?", "en") == "Zxqv"  # nothing the glossary knows: the names alone


def tsv(folder: Path, text: str) -> Path:
    """`text` written to a glossary file in `folder`."""
    path = folder / "glossary.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_checker_finds_what_the_spec_forbids(tmp_path: Path) -> None:
    batch = tsv(
        tmp_path,
        "fire\tincendio\nfire\tdespedir\nfire\tfuego\nfire\tdisparar\nFlood\tinundación\n"
        "rain\tlluvia\nrain\tlluvia\nstorm tormenta\nwind\tviento2\n",
    )
    found = "\n".join(check_glossary.problems(batch))
    assert "'fire' has 4 translations" in found
    assert ":5: not lowercase" in found
    assert ":7: a repeated pair" in found
    assert ":8: not 'english<TAB>spanish'" in found
    assert ":9: a character that is not a letter" in found
    assert "fire" not in "\n".join(check_glossary.problems(batch, merged=True))


def test_translations_match_inflected_words_and_prefer_the_longest_phrase(tmp_path: Path) -> None:
    glossary = Glossary.read(
        tsv(
            tmp_path,
            "invest\tinvertir\ninvestment\tinversión\ninterest rate\ttasa de interés\ninterest\tinterés\n"
            "rate\ttasa\nearthquake\tterremoto\ndead\tmuerto\n",
        )
    )
    # "invested" and "investment" share the English stem; the phrase wins over its words.
    assert glossary.translations("How much was invested in investments?", "en") == [
        ("invertir", "inversión"),
        ("invertir", "inversión"),
    ]
    assert glossary.translations("Did the interest rate rise?", "en") == [("tasa de interés",)]
    # Spanish is looked up as BM25 indexes it: stemmed, accents folded.
    assert glossary.translations("¿Cuántos muertos dejó el terremoto?", "es") == [("dead",), ("earthquake",)]
    assert glossary.translations("¿Cuántos muertos dejó el terremoto?", "en") == []


@pytest.fixture
def without_translations(fake_index: NewsIndex) -> Iterator[NewsIndex]:
    fake_index.hybrid.translation_weight = 0.0
    yield fake_index
    fake_index.hybrid.translation_weight = TRANSLATION_WEIGHT


def test_an_english_question_finds_the_spanish_articles_by_their_words(fake_index: NewsIndex) -> None:
    # The hashing encoder cannot cross languages: only BM25 can, through the glossary
    # ("dam" → "presa", "level" → "nivel").
    question = "What level are the dams at?"
    first = fake_index.search(question, k=1)[0]
    assert "presa" in Path(first.source).read_text(encoding="utf-8").lower()


def test_without_the_glossary_the_same_question_misses_them(without_translations: NewsIndex) -> None:
    first = without_translations.search("What level are the dams at?", k=1)[0]
    assert "presa" not in Path(first.source).read_text(encoding="utf-8").lower()


def test_added_tokens_weigh_like_the_querys_own_at_weight_one(fake_index: NewsIndex) -> None:
    lexical = fake_index.lexical_index()
    plain = lexical.scores("presas nivel")
    assert np.allclose(lexical.scores("presas", {"nivel": 1.0}), plain)
    half = lexical.scores("presas", {"nivel": 0.5})
    assert np.allclose(half, (lexical.scores("presas") + plain) / 2)


def test_an_english_question_matches_a_spanish_sentences_words_through_the_glossary(fake_index: NewsIndex) -> None:
    # The sentence ranker's word features for an article in another language than the question.
    query = understand("How many passengers a day will the new line carry?", fake_index.lexical_index())
    assert {"pasajer", "dia"} <= set(query.translated)
    hits = fake_index.search(query.text, k=3)
    share = SPAN_FEATURES.index("matched_share")

    def shares(asked: Query) -> tuple[float, float]:
        spans = {span.text: float(span.features[share]) for span in span_table(asked, hits)}
        answer = next(v for t, v in spans.items() if t.startswith("Se espera que la línea transporte"))
        other = next(v for t, v in spans.items() if t.startswith("El boleto costará"))
        return answer, other

    answer, other = shares(query)
    assert answer > other
    answer, other = shares(replace(query, translated=frozenset()))  # the English words alone
    assert answer <= other
