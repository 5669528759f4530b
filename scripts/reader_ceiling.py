"""How far reordering the ranker's best sentences can go on a data set, and what the scores the
product has tell about refusal.

    python scripts/reader_ceiling.py ../shared/eval/covid19-qa-es/train.squad2.json --split fit --store /tmp/evalcovid
    python scripts/reader_ceiling.py ../shared/eval/xquad.es.json --documents --store /tmp/evalxqd

Every question of the split is asked through `NewsIndex.ask` (the store `newsbot eval --store`
builds, reused). A recording answerer goes first: for the whole question it keeps the sentence
ranker's best MAX_CANDIDATES sentences with the reader's scores of each, and passes; the
product's own answerer then answers as usual. Printed:

- ceiling: how often the ranker's best k sentences hold a gold answer (no reordering of those k
  can do better);
- reorder: how often the first sentence after the product's reordering of the best k (ranker
  score + rerank weight × the ranking column, as `RankerAnswerer` reorders) holds it; k =
  RERANK_CANDIDATES is the product's, and the product's own answer is beside it;
- refusal: for each score, how well it puts answerable questions above unanswerable ones (ROC
  AUC; 0.5 is chance), and the best refusal F1 of a threshold on it with at most 5 % and with any
  share of false refusals, chosen on these questions themselves (an upper bound for that score).

Two-part questions are read whole here (the product reads each part), so the reorder figures are
of the reordering, not of the answer. `--reader FILE` measures another reader file (a training
run's) on the same questions; `--out FILE` keeps every record (JSON Lines) for further study.
Anything chosen from these figures is chosen on the split measured: report the other split's.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from index.answer.answerers import RERANK_CANDIDATES, RankerAnswerer, judge_candidates
from index.answer.question import Query
from index.answer.ranking import rank_sentences
from index.answer.reader import READER_FILE, Reader
from index.measure.datasets import load_dataset, split_questions
from index.measure.evaluate import dataset_index
from index.measure.metrics import Scored, at_threshold, choose_threshold, separation_auc
from index.measure.remembering import RememberingReader
from index.models import FittedModels, load_models
from index.schema import Answer, Hit
from index.settings import Settings

MAX_CANDIDATES = 16
CEILING_KS = (1, 4, 8, 12, 16)
REORDER_KS = (4, 6, 8, 10, 12, 16)
TWO_QUOTE_MARGINS = (1.0, 2.0, 4.0, math.inf)
MAX_FALSE_REFUSALS = 0.05  # as scripts/calibrate_reader.py chooses the product's threshold


@dataclass
class Asked:
    """One question: the ranker's best sentences, in its order, with each one's scores."""

    question: str
    answerable: bool
    sentences: list[str] = field(default_factory=list)
    holds: list[bool] = field(default_factory=list)  # the sentence holds a gold answer
    ranker: list[float] = field(default_factory=list)  # the sentence ranker's score
    column: list[float] = field(default_factory=list)  # the reader's ranking column (Reader.rank)
    span: list[float] = field(default_factory=list)  # the reader's best answer span in the sentence
    cosine: list[float] = field(default_factory=list)  # the question-sentence cosine (nan: not stored)
    product_refused: bool = False
    product_holds: bool = False


@dataclass
class Recorder:
    """Keeps what the reader makes of the ranker's best sentences, then lets the next answerer answer."""

    reader: Reader
    models: FittedModels = field(default_factory=load_models)
    asked: list[Asked] = field(default_factory=list)
    name: str = "recorder"

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        row = self.asked[-1]  # `record` adds the question's row before it asks
        head = rank_sentences(query, hits, self.models.ranker)[:MAX_CANDIDATES] if hits else []
        if head:
            question = query.reading or query.asked
            passages = [(hits[c.hit_index].title, c.sentence) for c in head]
            row.sentences = [c.sentence for c in head]
            row.ranker = [c.score for c in head]
            row.cosine = [c.similarity for c in head]
            row.column = [j.rank for j in judge_candidates(self.reader, query, question, hits, head)]
            row.span = [reading.score for reading in self.reader.read(question, passages)]
        return None


def record(dataset_path: Path, split: str, store: Path, documents: bool, reader: Reader, weight: float) -> list[Asked]:
    dataset = load_dataset(dataset_path, documents=documents)
    recorder = Recorder(reader)
    product = RankerAnswerer(models=load_models().with_reader(rerank_weight=weight), reader=reader)
    index, paths = dataset_index(dataset, Settings.from_env(env_file=None), store, answerers=[recorder, product])
    index.ingest(paths)
    questions = split_questions(dataset.questions, split)
    for number, question in enumerate(questions, start=1):
        row = Asked(question.question, question.answerable)
        recorder.asked.append(row)
        answer = index.ask(question.question, since=question.since, until=question.until)
        row.holds = [question.answerable and question.answered_by(s) for s in row.sentences]
        row.product_refused = answer.refused
        row.product_holds = question.answerable and question.answered_by(answer.text)
        if number % 100 == 0:
            print(f"  {number}/{len(questions)} questions", flush=True)
    return recorder.asked


def ceiling(rows: Sequence[Asked], k: int) -> float:
    """Share of answerable questions whose ranker's best k sentences hold a gold answer."""
    answerable = [r for r in rows if r.answerable]
    return sum(any(r.holds[:k]) for r in answerable) / max(len(answerable), 1)


def _reorder_score(row: Asked, n: int, weight: float) -> float:
    return row.ranker[n] + weight * row.column[n]


def reordered(row: Asked, k: int, weight: float) -> list[int]:
    """The indices of the ranker's best k sentences in the product's reordering (ties keep the
    ranker's order)."""
    return sorted(range(min(k, len(row.sentences))), key=lambda n: (-_reorder_score(row, n, weight), n))


def reordered_first(row: Asked, k: int, weight: float) -> int | None:
    """The index of the sentence the product's reordering of the ranker's best k puts first."""
    order = reordered(row, k, weight)
    return order[0] if order else None


def two_quoted(rows: Sequence[Asked], weight: float, margin: float) -> tuple[float, float]:
    """If the answer also quoted the reordered second sentence wherever its score is within
    `margin` of the first's (the reader unsure between them): the share of answerable questions
    whose quoted sentences hold a gold answer, and their mean length in characters."""
    answerable = [r for r in rows if r.answerable]
    held = characters = 0
    for row in answerable:
        order = reordered(row, RERANK_CANDIDATES, weight)
        scores = [_reorder_score(row, n, weight) for n in order[:2]]
        unsure = len(scores) == 2 and scores[0] - scores[1] < margin
        quoted = order[:2] if unsure else order[:1]
        held += any(row.holds[n] for n in quoted)
        characters += sum(len(row.sentences[n]) for n in quoted)
    return held / max(len(answerable), 1), characters / max(len(answerable), 1)


def reorder(rows: Sequence[Asked], k: int, weight: float) -> float:
    """Share of answerable questions whose reordered first sentence holds a gold answer."""
    answerable = [r for r in rows if r.answerable]
    firsts = [(r, reordered_first(r, k, weight)) for r in answerable]
    return sum(n is not None and r.holds[n] for r, n in firsts) / max(len(answerable), 1)


def _best(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return max(known) if known else -math.inf


# Scores a refusal could read, each higher for a question more likely answerable.
REFUSAL_SCORES: dict[str, Callable[[Asked], float]] = {
    "the ranker's best score": lambda r: _best(r.ranker),
    "the ranking column's best": lambda r: _best(r.column),
    "the span head's best": lambda r: _best(r.span),
    "the best cosine": lambda r: _best(r.cosine),
}


def refusal_figures(rows: Sequence[Asked], score: Callable[[Asked], float], weight: float) -> dict[str, float]:
    """ROC AUC of `score`, and the best refusal F1 of a threshold on it (≤ 5 % and any false
    refusals), each answered question holding what the product's reordering puts first."""

    def holds(row: Asked) -> bool:
        first = reordered_first(row, RERANK_CANDIDATES, weight)
        return first is not None and row.holds[first]

    scored = [Scored(score(r), holds(r), r.answerable) for r in rows]
    within, _ = choose_threshold(scored, MAX_FALSE_REFUSALS, mostly_right=False)
    anywhere, _ = choose_threshold(scored, 1.0, mostly_right=False)
    return {
        "auc": separation_auc([s.score for s in scored if s.answerable], [s.score for s in scored if not s.answerable]),
        "f1_within": within["refusal_f1"],
        "false_refusals_within": within["false_refusals"],
        "f1_best": anywhere["refusal_f1"],
        "false_refusals_best": anywhere["false_refusals"],
    }


def report(rows: Sequence[Asked], weight: float) -> list[str]:
    answerable = [r for r in rows if r.answerable]
    product = at_threshold(
        [Scored(-math.inf if r.product_refused else 0.0, r.product_holds, r.answerable) for r in rows], 0.0
    )
    lines = [
        f"{len(rows)} questions, {len(answerable)} answerable; rerank weight {weight:g}",
        "ceiling (the ranker's best k hold a gold answer): "
        + ", ".join(f"k={k} {ceiling(rows, k):.3f}" for k in CEILING_KS),
        "reorder (its first holds one, all answered): "
        + ", ".join(f"k={k} {reorder(rows, k, weight):.3f}" for k in REORDER_KS),
        f"the product's answers (k={RERANK_CANDIDATES}, parts read apart, its refusals): "
        f"containment {product['containment_all']:.3f} of all answerable, {product['containment_answered']:.3f} "
        f"of answered; refusal F1 {product['refusal_f1']:.3f}, false refusals {product['false_refusals']:.3f}",
        f"the reordered second sentence quoted too (k={RERANK_CANDIDATES}, all answered) when its score is "
        "within a margin of the first's: "
        + ", ".join(
            f"margin {m:g} {held:.3f} at {chars:.0f} chars"
            for m in (0.0, *TWO_QUOTE_MARGINS)
            for held, chars in [two_quoted(rows, weight, m)]
        ),
    ]
    if len(answerable) < len(rows):
        lines.append(
            f"refusal scores (AUC; best F1 with ≤ {MAX_FALSE_REFUSALS:.0%} false refusals; best F1 at any, "
            "with its false refusals), thresholds chosen on these questions:"
        )
        for name, score in REFUSAL_SCORES.items():
            f = refusal_figures(rows, score, weight)
            lines.append(
                f"  {name:27s} AUC {f['auc']:.3f}; F1 {f['f1_within']:.3f} ({f['false_refusals_within']:.3f}); "
                f"F1 {f['f1_best']:.3f} ({f['false_refusals_best']:.3f})"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="all", choices=("fit", "held-out", "all"))
    parser.add_argument("--documents", action="store_true", help="SQuAD files: paragraphs of a title as one article")
    parser.add_argument("--store", type=Path, required=True, help="the `newsbot eval --store` folder (reused)")
    parser.add_argument("--reader", type=Path, help="a reader file to measure (default: the shipped one)")
    parser.add_argument("--weight", type=float, help="rerank weight (default: the shipped reader.json's)")
    parser.add_argument("--out", type=Path, help="write every record here (JSON Lines)")
    options = parser.parse_args()
    reader_file = options.reader or READER_FILE
    if not reader_file.is_file():
        raise SystemExit(f"no reader weights ({reader_file}): run scripts/train_reader.py first")
    # The recorder reads each question's pairs for two scores and the product reads them again.
    reader = RememberingReader(reader_file)
    weight = options.weight if options.weight is not None else load_models().reader.rerank_weight
    rows = record(options.dataset, options.split, options.store, options.documents, reader, weight)
    if options.out:
        with options.out.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows)
    print("\n".join(report(rows, weight)))


if __name__ == "__main__":
    main()
