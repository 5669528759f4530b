"""How far the linear sentence ranker can go on a data set: the spans it scores, where the
answer is among them, and what re-weighting one feature at a time would buy.

    python scripts/ranker_ceiling.py ../shared/eval/covid19-qa-es/train.squad2.json --split fit --store /tmp/evalcovid

Asks every answerable question of the split through `NewsIndex.ask` (the store `newsbot eval
--store` builds, reused), records the spans the ranker scored (ranking.span_table) and prints:
how often some span holds a gold answer (the ceiling of any sentence picker over these hits),
how often the ranker's top 1 / 2 / 3 / 5 / 8 / 12 spans do, and, for each feature, the best
top-1 containment over a grid of changes to its weight (chosen on this split only: report the
held-out split's figure for anything adopted).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.answer.question import Query
from index.answer.ranking import SPAN_FEATURES, span_table
from index.measure.datasets import load_dataset, split_questions
from index.measure.evaluate import dataset_index
from index.measure.metrics import contains_answer
from index.models import load_models
from index.schema import Answer, Hit
from index.settings import Settings

TOP = (1, 2, 3, 5, 8, 12)
DELTAS = np.linspace(-3, 3, 13)


class Recorder:
    """An answerer that answers nothing: it keeps the query and hits the ranker would read."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[Query, list[Hit]]] = []

    def answer(self, query: Query, hits: Sequence[Hit]) -> Answer | None:
        self.seen.append((query, list(hits)))
        return None


def spans_per_question(path: Path, split: str, store: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features [spans, F], holds-a-gold-answer [spans]) for each answerable question."""
    dataset = load_dataset(path)
    recorder = Recorder()
    index, paths = dataset_index(dataset, Settings.from_env(env_file=None), store, answerers=[recorder])
    index.ingest(paths)
    seen = recorder.seen
    rows = []
    for question in split_questions(dataset.questions, split):
        if not question.answerable:
            continue
        seen.clear()
        index.ask(question.question, since=question.since, until=question.until)
        spans = span_table(*seen[-1]) if seen else []
        if spans:
            features = np.stack([s.features for s in spans])
            rows.append((features, np.array([contains_answer(s.text, question.answers) for s in spans])))
        else:
            rows.append((np.zeros((1, len(SPAN_FEATURES)), np.float32), np.zeros(1, bool)))
    return rows


def top_k(rows: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray, k: int) -> float:
    return float(np.mean([held[np.argsort(-(features @ weights), kind="stable")[:k]].any() for features, held in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="fit", choices=("fit", "held-out", "all"))
    parser.add_argument("--store", type=Path, required=True, help="the `newsbot eval --store` folder (reused)")
    options = parser.parse_args()
    rows = spans_per_question(options.dataset, options.split, options.store)
    weights = load_models().ranker
    print(f"{len(rows)} answerable questions ({options.split})")
    print(f"some span holds the answer: {np.mean([held.any() for _, held in rows]):.3f}")
    print("ranker's top k spans hold it: " + ", ".join(f"k={k} {top_k(rows, weights, k):.3f}" for k in TOP))
    for number, name in enumerate(SPAN_FEATURES):
        step = np.eye(len(SPAN_FEATURES), dtype=np.float32)[number]
        best, delta = max((top_k(rows, weights + d * step, 1), d) for d in DELTAS)
        print(f"  {name:14s} weight {weights[number]:+.2f}, best change {delta:+.1f}: top 1 {best:.3f}")


if __name__ == "__main__":
    main()
