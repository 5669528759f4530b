"""The reader's third training signal: the sentences the product itself puts in front of it.

    python scripts/reader_groups.py --train ../shared/eval/squad-es-v2.0-dev-small.json \
        --exclude ../shared/eval/xquad.es.json --work /tmp/reader-groups

The default answerer (answer.RankerAnswerer) reorders the sentence ranker's best
RERANK_CANDIDATES sentences of the *retrieved* articles by ranker score + rerank_weight × the
reader's ranking column. The second training stage (scripts/train_reader.py --rank-from) taught
that column on groups of single sentences of one document; what it meets at question time is
different: sentences of several articles, runs of two sentences, long sentences trimmed to
clauses, all already ordered by the ranker. This script builds training groups of exactly
that shape: train_reader.py's news-length documents (SQuAD-es v2 less XQuAD-es's paragraphs)
are ingested into a real store, every answerable question is asked through `NewsIndex.ask`,
and the ranker's best sentences are recorded with its score, the stored cosine and whether each
holds a gold answer (as `newsbot eval` counts it). Writes WORK/groups.jsonl, one line per
question (with its document number, so train_reader.py keeps its held-out documents out).

With `--news training/newsqa` it does the same for the project's news QA set: every article
ingested, every question asked (each part of a two-part question on its own, unanswerable ones
too: their lists teach the column when none of its sentences answers), each record naming its
article and split so that train_reader.py trains on the training events only.

    python scripts/reader_groups.py --news training/newsqa --work /tmp/news-groups
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from index import Settings
from index.answer.answerers import RERANK_CANDIDATES
from index.answer.question import Query
from index.answer.ranking import rank_sentences
from index.measure.datasets import SYNTHETIC_DATE, EvalSet
from index.measure.evaluate import dataset_index
from index.measure.metrics import contains_answer
from index.models import load_models
from index.schema import Answer, Article, Hit

sys.path.insert(0, str(Path(__file__).parent))
from train_reader import DOC_PARAGRAPHS  # (the same documents as the reader's training)


class Recorder:
    """An answerer that answers nothing: it keeps the ranker's best sentences of each question."""

    name = "recorder"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.weights = load_models().ranker
        self.last: dict[str, object] | None = None

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        ranked = rank_sentences(query, hits, self.weights)[: self.limit] if hits else []
        self.last = {
            "reading": query.reading or query.asked,
            "parts": len(query.each_part()),
            "candidates": [
                {
                    "title": hits[c.hit_index].title,
                    "sentence": c.sentence,
                    "score": c.score,
                    "cosine": c.similarity,
                    "document": hits[c.hit_index].source,
                }
                for c in ranked
            ],
        }
        return None


def news_documents(squad: dict, excluded_ids: set[str]) -> tuple[EvalSet, list[tuple[int, str, tuple[str, ...]]]]:
    """train_reader.documents()'s documents (same order, same paragraphs) as articles to ingest,
    and each answerable question as (document number, question, gold answers)."""
    articles: list[Article] = []
    asked: list[tuple[int, str, tuple[str, ...]]] = []
    for entry in squad["data"]:
        paragraphs = entry["paragraphs"]
        kept = [p for p in paragraphs if not any(qa["id"] in excluded_ids for qa in p["qas"])]
        title = str(entry["title"]).replace("_", " ")
        for first in range(0, len(kept), DOC_PARAGRAPHS):
            group = kept[first : first + DOC_PARAGRAPHS]
            number = len(articles)
            source = f"squad-train://{entry['title']}/{first}"
            text = "\n\n".join(p["context"].lstrip("\ufeff").strip() for p in group)
            articles.append(
                Article(
                    source=source,
                    origin="reader-groups",
                    title=title,
                    outlet="SQuAD-es",
                    date=SYNTHETIC_DATE,
                    text=text,
                    language="es",
                    url=source,
                )
            )
            for paragraph in group:
                for qa in paragraph["qas"]:
                    answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                    if not qa.get("is_impossible") and answers:
                        asked.append((number, qa["question"].strip(), answers))
    return EvalSet("reader-groups", articles, []), asked


def news_questions(path: Path) -> list[dict[str, object]]:
    """What to ask of the news QA set: each answerable part (a two-part question's parts each on
    their own, with their own question) and each unanswerable question."""
    from index.measure.newsqa import load_batches, question_split

    asked: list[dict[str, object]] = []
    for batch in load_batches(path):
        for q in batch.questions:
            split = question_split(batch, q)
            for part in q.parts:
                asked.append({"article": part.article, "question": q.asked_for(part), "answers": list(part.answers),
                              "answerable": True, "kind": q.kind, "split": split})  # fmt: skip
            if not q.answerable and q.about:
                asked.append({"article": q.about[0], "question": q.question, "answers": [],
                              "answerable": False, "kind": q.kind, "split": split})  # fmt: skip
    return asked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, help="a SQuAD-format training file")
    parser.add_argument("--news", type=Path, help="the news QA set's folder (instead of --train)")
    parser.add_argument("--exclude", type=Path, help="a SQuAD-format test set whose paragraphs are left out")
    parser.add_argument("--work", type=Path, default=Path("/tmp/reader-groups"))
    parser.add_argument("--limit", type=int, default=0, help="ask this many questions only (smoke runs)")
    args = parser.parse_args()

    if args.news:
        from index.measure.newsqa import load_newsqa

        dataset, records = load_newsqa(args.news), news_questions(args.news)
    elif args.train:
        squad = json.loads(args.train.read_text(encoding="utf-8"))
        excluded: set[str] = set()
        if args.exclude:
            test = json.loads(args.exclude.read_text(encoding="utf-8"))
            excluded = {qa["id"] for e in test["data"] for p in e["paragraphs"] for qa in p["qas"]}
        dataset, asked = news_documents(squad, excluded)
        records = [{"document": d, "question": q, "answers": a} for d, q, a in asked]
    else:
        parser.error("give --train or --news")
    recorder = Recorder(RERANK_CANDIDATES)
    index, paths = dataset_index(dataset, Settings.from_env(), args.work, answerers=[recorder])
    index.ingest(paths)
    out = args.work / "groups.jsonl"
    kept = 0
    with out.open("w", encoding="utf-8") as lines:
        for number, asked_record in enumerate(records[: args.limit or None], start=1):
            recorder.last = None
            index.ask(str(asked_record["question"]))
            if recorder.last is None or not recorder.last["candidates"]:
                continue
            for candidate in recorder.last["candidates"]:  # type: ignore[attr-defined]
                candidate["holds"] = contains_answer(candidate["sentence"], asked_record["answers"])  # type: ignore[arg-type]
            lines.write(json.dumps({**asked_record, **recorder.last}, ensure_ascii=False) + "\n")
            kept += 1
            if number % 500 == 0:
                print(f"  {number}/{len(records)} questions", file=sys.stderr, flush=True)
    print(f"wrote {out}: {kept} questions of {len(dataset.articles)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
