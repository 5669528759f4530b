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
from pathlib import Path
from typing import Any

import numpy as np

from index.answer import answerers as answer
from index.answer.ranking import SPAN_FEATURES, SPAN_WEIGHTS, span_table
from index.measure.datasets import load_dataset, split_questions
from index.measure.evaluate import dataset_index
from index.measure.metrics import contains_answer
from index.settings import Settings

TOP = (1, 2, 3, 5, 8, 12)
DELTAS = np.linspace(-3, 3, 13)


def spans_per_question(path: Path, split: str, store: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features [spans, F], holds-a-gold-answer [spans]) for each answerable question."""
    dataset = load_dataset(path)
    index, paths = dataset_index(dataset, Settings.from_env(env_file=None), store)
    index.ingest(paths)
    seen: list[tuple[Any, Any]] = []
    ranker_answer = answer.RankerAnswerer.answer

    def recording(self: answer.RankerAnswerer, query: Any, hits: Any) -> Any:
        seen.append((query, list(hits)))
        return ranker_answer(self, query, hits)

    answer.RankerAnswerer.answer = recording  # type: ignore[method-assign]
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
    print(f"{len(rows)} answerable questions ({options.split})")
    print(f"some span holds the answer: {np.mean([held.any() for _, held in rows]):.3f}")
    print("ranker's top k spans hold it: " + ", ".join(f"k={k} {top_k(rows, SPAN_WEIGHTS, k):.3f}" for k in TOP))
    for number, name in enumerate(SPAN_FEATURES):
        step = np.eye(len(SPAN_FEATURES), dtype=np.float32)[number]
        best, delta = max((top_k(rows, SPAN_WEIGHTS + d * step, 1), d) for d in DELTAS)
        print(f"  {name:14s} weight {SPAN_WEIGHTS[number]:+.2f}, best change {delta:+.1f}: top 1 {best:.3f}")


if __name__ == "__main__":
    main()
